#ifndef ISTHMUS_EDGE_H
#define ISTHMUS_EDGE_H

#include <stdio.h>

/* "isthmus edge -c FILE [--check]" */
int edge_main(int argc, char **argv);
void edge_usage(FILE *f);

#endif
