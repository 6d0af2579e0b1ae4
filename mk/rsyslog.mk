# Remote-syslog tier: a real rsyslogd (Debian's rsyslog) on loopback
# receives what firmware/syslog sends over UDP and octet-counted TCP and
# must parse it as RFC 5424 (tools/lab/rsyslog). Seconds.
#
#   make test-rsyslog   install rsyslog if missing (its service is not
#                       used: the test runs its own rsyslogd), run the test

.PHONY: test-rsyslog

test-rsyslog:
	$(call apt_install,rsyslog)
	DESKPHONE_TIER=rsyslog $(GO) test -count=1 -v -timeout 2m ./tools/lab/rsyslog/
