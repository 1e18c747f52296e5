/* backend_framework.h — declarations shared by the extension's C files. */
#ifndef BACKEND_FRAMEWORK_H
#define BACKEND_FRAMEWORK_H

extern int	bf_password_min_length;
extern int	bf_bcrypt_cost;

void		_PG_init(void);

#endif
