# po/: the translations (docs/internals/i18n.md). gettext's own po/Makefile
# (from po/Makefile.in.in, Makevars and Rules-locale) builds the catalogs and
# the build tree's locale directory po/locale; make update-po runs there.
update-po:
	cd po && $(MAKE) $(AM_MAKEFLAGS) update-po
.PHONY: update-po

# The catalogs' tests (tests/i18n/): complete, checked and in step with the
# sources; the CLI translated from po/locale.
TESTS += tests/i18n/test-catalogs.sh tests/i18n/test-translated.sh
EXTRA_DIST += tests/i18n/test-catalogs.sh tests/i18n/test-translated.sh docs/internals/i18n.md
