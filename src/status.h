#ifndef ISTHMUS_STATUS_H
#define ISTHMUS_STATUS_H

#include <stdio.h>

/* "isthmus status" */
int status_main(int argc, char **argv);
void status_usage(FILE *f);

#endif
