package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"portico/auth"
	"portico/auth/providers"
	"portico/config"
	"portico/handlers"
	"portico/server"
	"portico/sql/store"
)

const providerUsage = `usage: portico provider add KIND --name N [flags]   (KIND: google, microsoft, okta, oidc, saml, jwt)
       portico provider list | enable N | disable N | remove N | metadata N
secrets are read from standard input (--secret-stdin) or a file (--secret-file F), never from an argument`

// cmdProvider runs `portico provider …` (issue 5): the admin console's provider management for
// operators who configure by script. Validation and messages are the console's (English).
func cmdProvider(ctx context.Context, cfg *config.Config, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := group(args, providerUsage, stdout); err != nil {
		return err
	}
	if args[0] != "add" && wantsHelp(args[1:]) {
		fmt.Fprintln(stdout, providerUsage)
		return flag.ErrHelp
	}
	if args[0] == "add" && (len(args) == 1 || isHelp(args[1])) {
		fmt.Fprintln(stdout, providerUsage)
		return flag.ErrHelp
	}
	if args[0] == "add" && wantsHelp(args[2:]) { // the kind's flags, before any key or database is read
		return providerAdd(ctx, cfg, nil, args[1:], stdin, stdout, stderr)
	}
	sealer, err := providers.NewSealer(cfg.SecretKey)
	if err != nil {
		return err
	}
	switch args[0] {
	case "add":
		return providerAdd(ctx, cfg, sealer, args[1:], stdin, stdout, stderr)
	case "list":
		return withStore(ctx, cfg, func(s *store.Store) error {
			list, err := s.IdentityProviderList(ctx)
			if err != nil {
				return err
			}
			for _, p := range list {
				state := "disabled"
				if p.Enabled {
					state = "enabled"
				}
				fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", p.Slug, p.Kind, state, p.Name)
			}
			return nil
		})
	case "enable", "disable", "remove", "metadata":
		if len(args) != 2 {
			return errors.New(providerUsage)
		}
		return withStore(ctx, cfg, func(s *store.Store) error {
			p, err := s.IdentityProviderBySlug(ctx, args[1])
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no provider named %q", args[1])
			}
			if err != nil {
				return err
			}
			switch args[0] {
			case "metadata":
				if p.Kind != store.KindSAML {
					return fmt.Errorf("%s is not a SAML provider", p.Slug)
				}
				built, err := providers.Build(handlers.ProviderConfig(p), providers.Deps{BaseURL: cfg.BaseURL, Sealer: sealer})
				if err != nil {
					return err
				}
				md, ok := built.(auth.MetadataPublisher)
				if !ok {
					return fmt.Errorf("%s publishes no SP metadata", p.Slug)
				}
				b, err := md.Metadata()
				if err == nil {
					_, err = stdout.Write(append(b, '\n'))
				}
				return err
			case "remove":
				err = s.IdentityProviderDelete(ctx, store.CLIEditor, p.ID)
			case "enable":
				if err := checkDiscovery(ctx, p); err != nil {
					return err
				}
				err = s.IdentityProviderSetEnabled(ctx, store.CLIEditor, p.ID, true)
			default:
				err = s.IdentityProviderSetEnabled(ctx, store.CLIEditor, p.ID, args[0] == "enable")
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "provider %s: %s\n", p.Slug, map[string]string{"enable": "enabled", "disable": "disabled", "remove": "removed"}[args[0]])
			announceProviders(ctx, cfg, stderr)
			return nil
		})
	}
	return errors.New(providerUsage)
}

var nonSlug = regexp.MustCompile(`[^a-z0-9-]+`)

func providerAdd(ctx context.Context, cfg *config.Config, sealer *providers.Sealer, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return errors.New(providerUsage)
	}
	kind := args[0]
	if _, ok := providers.SettingKeys[kind]; !ok {
		return fmt.Errorf("unknown kind %q (google, microsoft, okta, oidc, saml, jwt)", kind)
	}
	fs := newFlags("provider add "+kind, "provider add "+kind+" --name N [flags]", stdout)
	name := fs.String("name", "", "button label (required)")
	slug := fs.String("slug", "", "short name in URLs (default: from --name)")
	set := map[string]*string{}
	for _, f := range []struct{ flag, key, help string }{
		{"client-id", "client_id", "the OAuth client ID the provider issued (google, microsoft, okta, oidc)"},
		{"org-url", "org_url", "the Okta organization URL, e.g. https://example.okta.com"},
		{"tenant", "tenant", "the Microsoft Entra tenant: its ID or domain, or common or organizations"},
		{"discovery-url", "discovery_url", "the OpenID Connect discovery URL (…/.well-known/openid-configuration)"},
		{"metadata-url", "idp_metadata_url", "the URL of the identity provider's SAML metadata"},
		{"alg", "alg", "the JWT signing algorithm: HS256, RS256 or ES256"},
		{"jwks-url", "jwks_url", "the URL of the JWT issuer's public keys (JWKS)"},
		{"remote-login-url", "remote_login_url", "where customers sign in on your site (JWT)"},
		{"remote-logout-url", "remote_logout_url", "where customers are sent after signing out (JWT)"},
		{"clock-skew", "clock_skew", "allowed clock difference with the provider, e.g. 2m"},
		{"issuer", "issuer", "the expected token issuer (iss)"},
		{"token-audience", "token_audience", "the expected token audience (aud)"},
		{"attr-email", "attr_email", "the SAML attribute holding the email address"},
		{"attr-name", "attr_name", "the SAML attribute holding the name"},
		{"attr-company", "attr_company", "the SAML attribute holding the company"},
		{"attr-groups", "attr_groups", "the SAML attribute holding the groups"},
		{"authoritative-domains", "authoritative_domains", "email domains this provider may vouch for, D1,D2"},
	} {
		if kindUses(kind, f.key) {
			set[f.key] = fs.String(f.flag, "", f.help)
		}
	}
	metadataFile, keyFile, secretFile := new(string), new(string), new(string)
	secretStdin, idpInit, appInit := new(bool), new(bool), new(bool)
	if kind == store.KindSAML {
		fs.StringVar(metadataFile, "metadata-file", "", "a file holding the identity provider's SAML metadata XML")
		fs.BoolVar(idpInit, "idp-initiated", false, "allow sign-in started at the identity provider")
	}
	if kind == store.KindJWT {
		fs.StringVar(keyFile, "key-file", "", "a PEM file holding the public key (RS256, ES256)")
		fs.BoolVar(appInit, "app-initiated", false, "accept tokens the app sends without a sign-in started here (the customer confirms first)")
	}
	if len(providers.SecretKeys[kind]) > 0 {
		fs.StringVar(secretFile, "secret-file", "", "a file holding the client secret or JWT shared secret")
		fs.BoolVar(secretStdin, "secret-stdin", false, "read the client secret or JWT shared secret from standard input")
	}
	audience := fs.String("audience", store.AudienceAll, "who may use it: all or groups")
	groups := fs.String("groups", "", "access groups G1,G2 (implies --audience groups)")
	enable := fs.Bool("enable", false, "enable at once")
	noCreate := fs.Bool("no-create", false, "never create contacts on first sign-in")
	trustOrg := fs.Bool("trust-organization", false, "let a new contact join the existing company named by the IdP's organization claim")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if sealer == nil {
		return flag.ErrHelp
	}
	row := store.IdentityProvider{Kind: kind, Name: *name, Enabled: *enable, Audience: *audience, AllowCreate: !*noCreate,
		TrustOrganization: *trustOrg, Settings: map[string]string{}}
	row.Slug = *slug
	if row.Slug == "" {
		row.Slug = strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(*name), "-"), "-")
	}
	if *groups != "" {
		row.Groups, row.Audience = splitCSV(*groups), store.AudienceGroups
	}
	for k, v := range set {
		if *v != "" {
			row.Settings[k] = *v
		}
	}
	if kind == store.KindSAML {
		row.Settings["allow_idp_initiated"] = strconv.FormatBool(*idpInit)
	}
	if kind == store.KindJWT {
		row.Settings["allow_app_initiated"] = strconv.FormatBool(*appInit)
	}
	for file, key := range map[string]string{*metadataFile: "idp_metadata_xml", *keyFile: "public_key"} {
		if file == "" {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		row.Settings[key] = string(b)
	}
	secrets := map[string]string{}
	var secret string
	switch {
	case *secretFile != "":
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return err
		}
		secret = strings.TrimSpace(string(b))
	case *secretStdin:
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		secret = strings.TrimSpace(line)
	}
	for _, k := range providers.SecretKeys[kind] {
		secrets[k] = secret
	}
	cat, err := handlers.NewCatalogue()
	if err != nil {
		return err
	}
	t := cat.Match("en").T
	if err := handlers.ApplyProvider(&row, secrets, sealer, false); err != nil {
		var ce *providers.ConfigError
		if errors.As(err, &ce) {
			if len(ce.Fields) == 0 {
				ce.Fields = map[string]string{ce.Field: ce.MessageID}
			}
			return fieldErrors(ce.Fields, t)
		}
		return err
	}
	if row.Enabled {
		if err := checkDiscovery(ctx, row); err != nil {
			return err
		}
	}
	return withStore(ctx, cfg, func(s *store.Store) error {
		p, err := s.IdentityProviderCreate(ctx, store.CLIEditor, row)
		var ve *store.ValidationError
		switch {
		case errors.As(err, &ve):
			return fieldErrors(ve.Fields, t)
		case errors.Is(err, store.ErrConflict):
			return fmt.Errorf("slug: %s", t("SSOSlugTaken"))
		case err != nil:
			return err
		}
		fmt.Fprintf(stdout, "provider %s added (%s, %s)\n", p.Slug, p.Kind, map[bool]string{true: "enabled", false: "disabled"}[p.Enabled])
		if p.Kind == store.KindSAML {
			fmt.Fprintf(stdout, "SP metadata: %s/sso/%s/metadata (or `portico provider metadata %s`)\n", cfg.BaseURL, p.Slug, p.Slug)
		}
		announceProviders(ctx, cfg, stderr)
		return nil
	})
}

// fieldErrors is every refused field with its message, sorted by field: "a: …; b: …".
func fieldErrors(fields map[string]string, t func(string, ...any) string) error {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + t(fields[k])
	}
	return errors.New(strings.Join(parts, "; "))
}

// checkDiscovery refuses to enable an OpenID Connect provider whose discovery document cannot
// be fetched or is not one (providers.CheckDiscovery), with the console's message in English.
func checkDiscovery(ctx context.Context, p store.IdentityProvider) error {
	err := providers.CheckDiscovery(ctx, handlers.ProviderConfig(p), providers.Deps{})
	var ce *providers.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	cat, cerr := handlers.NewCatalogue()
	if cerr != nil {
		return err
	}
	return fmt.Errorf("provider %s not enabled: %s: %s", p.Slug, ce.Field, cat.Match("en").T(ce.MessageID, "Detail", ce.Detail))
}

// kindUses reports whether a provider of kind has the setting key (providers.SettingKeys), so
// that `provider add KIND --help` lists only the flags that apply.
func kindUses(kind, key string) bool {
	for _, k := range providers.SettingKeys[kind] {
		if k == key {
			return true
		}
	}
	return false
}

func splitCSV(s string) []string {
	var out []string
	for _, g := range strings.Split(s, ",") {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	return out
}

// announceProviders tells running instances to reload their provider registry.
func announceProviders(ctx context.Context, cfg *config.Config, stderr io.Writer) {
	rdb, err := server.OpenRedis(ctx, cfg.RedisURL)
	if err != nil {
		fmt.Fprintf(stderr, "portico: running instances were not told (%v); they reload on restart\n", err)
		return
	}
	defer rdb.Close()
	_ = rdb.Publish(ctx, server.ChannelPrefix(rdb, "portico:")+"providers-changed", "1").Err()
}
