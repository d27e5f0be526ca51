/* collector/json/json_write.h: JSON string output shared by every collector program that prints JSON. */
#ifndef COLLECTOR_JSON_WRITE_H
#define COLLECTOR_JSON_WRITE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Write s as one JSON string (RFC 8259), or `null` when s is NULL.
 *
 * The strings come from untrusted places (a device's metadata, names in a core
 * or its ELF files), yet every document must parse and must show names as they
 * are: valid UTF-8 (RFC 3629) is copied as it is, so "é" stays "é"; '"', '\\'
 * and control characters (and DEL) are escaped; each byte that does not begin
 * a valid sequence (overlong forms, surrogates, past U+10FFFF, a sequence cut
 * short) becomes the escape \ufffd (U+FFFD).  The output is therefore
 * always valid UTF-8 JSON and never holds \u0000 (the readers keep C strings).
 */
void json_write_str(FILE *f, const char *s);

#endif /* COLLECTOR_JSON_WRITE_H */
