/* backend_framework.h — declarations shared by the extension's C files. */
#ifndef BACKEND_FRAMEWORK_H
#define BACKEND_FRAMEWORK_H

extern int	bf_password_min_length;
extern int	bf_bcrypt_cost;

/* keys.c: the key-encryption key of the signing keys (superuser-only settings). */
#include "utils/guc.h"
extern char *bf_kek;
extern char *bf_kek_file;
extern int	bf_key_rotation_days;
bool		bf_check_kek(char **newval, void **extra, GucSource source);

void		_PG_init(void);

#endif
