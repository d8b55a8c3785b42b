#!/usr/bin/env bash
# Make sure the SAML 2.0 metadata schema check (server/sso_xsd_test.go) can run: libxml2's
# xmllint (libxml2-utils) and the OASIS SAML and W3C XML-DSig/XML-Enc schemas as Debian ships
# them (opensaml-schemas, xmltooling-schemas). Installs the missing packages when we are root.
set -euo pipefail

log() { echo "samlschemas: $*"; }

have() {
	command -v xmllint >/dev/null 2>&1 &&
		[ -r /usr/share/xml/opensaml/saml-schema-metadata-2.0.xsd ] &&
		[ -r /usr/share/xml/xmltooling/xmldsig-core-schema.xsd ]
}

if have; then
	log "xmllint and the SAML metadata schema are installed"
	exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	log "installing Debian packages libxml2-utils opensaml-schemas xmltooling-schemas"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-utils opensaml-schemas xmltooling-schemas
	if have; then
		exit 0
	fi
	echo "samlschemas: ERROR: the packages installed but xmllint or the schemas are missing" >&2
	exit 1
fi

echo "samlschemas: ERROR: install libxml2-utils, opensaml-schemas and xmltooling-schemas (Debian) for the SAML metadata schema check" >&2
exit 1
