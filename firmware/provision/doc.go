// Package provision is the phone's zero-touch provisioning client: it
// fetches its config from a provisioning server, lays it over the
// phone's own and hands the result to the config store, which applies it.
//
// # Files
//
// A server is a URL of a directory (http:// or https://) that holds two
// static YAML files in the config's format (docs/config.md):
//
//	<server>/phone.yaml          common to every phone
//	<server>/<mac>.yaml          one phone's: its MAC in lower-case hex
//	                             without separators, e.g. 0011223344aa.yaml
//
// Either may be absent (404), not both. The phone's file is laid over the
// common one, and both over the phone's current config, key by key
// (config.Overlay): a mapping merges key by key, accounts merge item by
// item, other values replace. The merged config is validated as a whole;
// problems name the URL, line and field of what caused them. A config
// with any problem changes nothing: the last good config keeps running
// and the problem is reported (Status, a WARN log line, the web page).
//
// # When
//
// A Provisioner checks at boot after a random delay of up to BootJitter
// (30 s by default), then every provision.interval (24 h by default)
// plus or minus a random tenth of it (at most an hour), so that a fleet
// that booted together (a power cut) spreads over the window instead of
// asking in the same second, and drifts further apart with every
// check. A failed fetch is retried sooner: after a minute, doubling up
// to the interval. Each file is asked for with If-None-Match and
// If-Modified-Since from its last answer (kept in memory), so a check
// where nothing changed costs two 304 answers without bodies.
//
// # Security
//
// Over https:// the server's certificate is checked against the system
// roots or provision.ca_file; a client certificate (provision.cert_file,
// key_file) is shown when asked for. provision.username and password
// answer an HTTP digest challenge (RFC 7616, MD5 or SHA-256, qop=auth),
// or a basic one over https:// only. A redirect from https:// to
// http:// is refused. Each file is at most config.MaxFileSize (1 MiB)
// and each request ends after Timeout (30 s).
//
// # Firmware
//
// A merged config with firmware.url and firmware.version different from
// the running version makes the Provisioner fetch that bundle (same
// client, same checks) and hand it to an Installer: on a device, initd's
// update agent, which checks the signature and installs it into the
// inactive slot for a trial boot with rollback (firmware/update). A
// version this phone has rolled back is not installed again, and a
// bundle that failed is not fetched again until the URL or version
// changes.
package provision
