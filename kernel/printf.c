/* kernel/printf.c: formatted console output for the kernel (a small vsnprintf and k_printf). */
#include <stdarg.h>
#include "kernel/kernel.h"

struct outbuf {
	char *buf;
	size_t cap, len;
};

static void out(struct outbuf *o, char c)
{
	if (o->buf && o->len + 1 < o->cap)
		o->buf[o->len] = c;
	else if (!o->buf)
		hal_console_putc(c);
	o->len++;
}

static void out_num(struct outbuf *o, uint64_t v, int base, int width, char pad, int neg)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % (uint64_t)base];
		v /= (uint64_t)base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	for (int i = n; i < width; i++)
		out(o, pad);
	while (n)
		out(o, tmp[--n]);
}

static void vformat(struct outbuf *o, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out(o, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, lng = 0;
		if (*fmt == '0')
			pad = '0', fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z')
			lng = 1, fmt++;
		switch (*fmt) {
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			out_num(o, v < 0 ? (uint64_t)-v : (uint64_t)v, 10, width, pad, v < 0);
			break;
		}
		case 'u':
			out_num(o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad, 0);
			break;
		case 'x':
			out_num(o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad, 0);
			break;
		case 'p':
			out(o, '0');
			out(o, 'x');
			out_num(o, (uint64_t)va_arg(ap, void *), 16, width, pad, 0);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int n = (int)strlen(s);
			for (int i = n; i < width; i++)
				out(o, ' ');
			while (*s)
				out(o, *s++);
			break;
		}
		case 'c':
			out(o, (char)va_arg(ap, int));
			break;
		case '%':
			out(o, '%');
			break;
		case 0:
			return;
		default:
			out(o, '%');
			out(o, *fmt);
		}
	}
}

void k_printf(const char *fmt, ...)
{
	struct outbuf o = { 0, 0, 0 };
	va_list ap;
	va_start(ap, fmt);
	vformat(&o, fmt, ap);
	va_end(ap);
}

int k_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
	struct outbuf o = { buf, cap, 0 };
	va_list ap;
	va_start(ap, fmt);
	vformat(&o, fmt, ap);
	va_end(ap);
	if (cap)
		buf[o.len < cap ? o.len : cap - 1] = 0;
	return (int)o.len;
}

void k_panic(const char *fmt, ...)
{
	struct outbuf o = { 0, 0, 0 };
	va_list ap;
	k_printf("\nkernel panic: ");
	va_start(ap, fmt);
	vformat(&o, fmt, ap);
	va_end(ap);
	k_printf("\n");
	hal_poweroff(1);
}
