/* kernel/image.c: look up an embedded user program by name. */
#include "kernel/kernel.h"

const struct k_image *image_find(const char *name)
{
	for (int i = 0; i < k_nimages; i++)
		if (strcmp(k_images[i].name, name) == 0)
			return &k_images[i];
	return 0;
}
