/* `isthmus cloud`, the multi-tenant gateway: its entry point (cloud.c). */
#ifndef ISTHMUS_CLOUD_H
#define ISTHMUS_CLOUD_H

#include <stdio.h>

/* "isthmus cloud -c FILE [--check]" */
int cloud_main(int argc, char **argv);
void cloud_usage(FILE *f);

#endif
