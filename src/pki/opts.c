/*
 * The option parser every "isthmus pki" subcommand shares: one table of
 * options, each subcommand saying which apply to it and which it needs,
 * and the parsers of their values (pki.h, "Shared option parsing").
 */
#include "pki/pki.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "common/cli.h"
#include "common/confparse.h"

#define PKI_DAYS_MAX 36500

int
pki_parse_key_type(const char *s, enum pki_key_type *out, struct err *e)
{
	if (strcmp(s, "ed25519") == 0)
		*out = PKI_KEY_ED25519;
	else if (strcmp(s, "p256") == 0)
		*out = PKI_KEY_P256;
	else
		return err_set(e, -EINVAL, "unknown key type '%s': expected "
		    "ed25519 or p256", s);
	return 0;
}

int
pki_parse_days(const char *s, int *out, struct err *e)
{
	int64_t v;

	if (conf_parse_int(s, 1, PKI_DAYS_MAX, &v, NULL) != 0)
		return err_set(e, -EINVAL, "invalid --days '%s': must be a "
		    "positive number of days (1 to %d)", s, PKI_DAYS_MAX);
	*out = (int)v;
	return 0;
}

static const struct option pki_options[] = {
	{ "name", required_argument, NULL, 'n' },
	{ "days", required_argument, NULL, 'd' },
	{ "key", required_argument, NULL, 'k' },
	{ "ca", required_argument, NULL, 'c' },
	{ "out", required_argument, NULL, 'o' },
	{ "reason", required_argument, NULL, 'r' },
	{ "tenant", required_argument, NULL, 't' },
	{ "dns", required_argument, NULL, 'D' },
	{ "ip", required_argument, NULL, 'I' },
	{ "vendor", required_argument, NULL, 'V' },
	{ "force", no_argument, NULL, 'f' },
	{ "json", no_argument, NULL, 'j' },
	{ "usage", required_argument, NULL, 'u' },
	CLI_COMMON_LONG,
	{ NULL, 0, NULL, 0 },
};

/* The PKI_OPT_* bit of option letter c; the table above is in bit order. */
static unsigned
opt_bit(int c, const char **name)
{
	unsigned i;

	for (i = 0; pki_options[i].name != NULL; i++) {
		if (pki_options[i].val == c) {
			*name = pki_options[i].name;
			return 1u << i;
		}
	}
	return 0;
}

/* One option's value into o: CLI_GO_ON, or the exit status of a bad one. */
static int
opt_value(struct pki_opts *o, int c, const char *cmd)
{
	struct err e;

	switch (c) {
	case 'n': o->name = optarg; break;
	case 'c': o->ca = optarg; break;
	case 'o': o->out = optarg; break;
	case 'r': o->reason = optarg; break;
	case 't': o->tenant = optarg; break;
	case 'V': o->vendor = optarg; break;
	case 'u': o->usage = optarg; break;
	case 'd':
		if (pki_parse_days(optarg, &o->days, &e) != 0)
			return cli_fail(cmd, EXIT_USAGE, "%s", e.msg);
		break;
	case 'k':
		if (pki_parse_key_type(optarg, &o->key, &e) != 0)
			return cli_fail(cmd, EXIT_USAGE, "%s", e.msg);
		break;
	case 'D':
	case 'I':
		if (conf_parse_list(optarg, c == 'D' ? &o->dns : &o->ips,
		    &e) != 0)
			return cli_fail(cmd, EXIT_USAGE, "--%s: %s",
			    c == 'D' ? "dns" : "ip", e.msg);
		break;
	default:
		break;
	}
	return CLI_GO_ON;
}

int
pki_getopt(int argc, char **argv, const char *usage, unsigned allowed,
    unsigned required, int npos_min, int npos_max, struct pki_opts *o)
{
	const char *name = "";
	char cmd[48];
	unsigned bit, i;
	int c, rc;

	snprintf(cmd, sizeof(cmd), "pki %s", argv[0]);
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, pki_options,
	    NULL)) != -1) {
		if (cli_common_option(c))
			continue;
		if (c == 'h') {
			fputs(usage, stdout);
			return EXIT_OK;
		}
		bit = opt_bit(c, &name);
		if (bit == 0)
			return cli_bad_option(cmd, usage, argv, c);
		if (!(allowed & bit))
			return cli_usage_error(cmd, usage, "option --%s does "
			    "not apply to isthmus %s", name, cmd);
		o->seen |= bit;
		rc = opt_value(o, c, cmd);
		if (rc != CLI_GO_ON)
			return rc;
	}
	o->pos = argv + optind;
	o->npos = argc - optind;
	if (o->npos < npos_min)
		return cli_usage_error(cmd, usage, "missing argument");
	if (o->npos > npos_max)
		return cli_usage_error(cmd, usage, "unexpected argument '%s'",
		    o->pos[npos_max]);
	for (i = 0; pki_options[i].name != NULL; i++)
		if ((required & (1u << i)) && !(o->seen & (1u << i)))
			return cli_usage_error(cmd, usage, "--%s is required",
			    pki_options[i].name);
	return CLI_GO_ON;
}

void
pki_opts_free(struct pki_opts *o)
{
	strlist_free(&o->dns);
	strlist_free(&o->ips);
}
