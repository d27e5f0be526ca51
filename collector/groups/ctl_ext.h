/* collector/groups/ctl_ext.h: what corecastctl's own commands call to show symbolization and groups. */
#ifndef GROUPS_CTL_EXT_H
#define GROUPS_CTL_EXT_H

#include <stdio.h>

struct ctl;
struct store_rec;

/*
 * `corecastctl info ID` ends with these (defined in collector/corecastctl/cmd_group.c):
 * the text form prints the symbolization status, the group and every thread's
 * backtrace; the JSON form adds ,"symbolization":{...},"threads":[...],"group":{...}
 * inside the dump's object (pass it as ctl_json_rec's extra with arg = the ctl).
 */
void grp_info_text(struct ctl *c, const struct store_rec *r);
void grp_info_json(FILE *f, const struct store_rec *r, void *ctl);

#endif /* GROUPS_CTL_EXT_H */
