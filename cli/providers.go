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
	"strconv"
	"strings"

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
	if len(args) == 0 {
		return errors.New(providerUsage)
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
				built, err := providers.Build(p, providers.Deps{BaseURL: cfg.BaseURL, Sealer: sealer})
				if err != nil {
					return err
				}
				b, err := built.(interface{ Metadata() ([]byte, error) }).Metadata()
				if err == nil {
					_, err = stdout.Write(append(b, '\n'))
				}
				return err
			case "remove":
				err = s.IdentityProviderDelete(ctx, store.CLIEditor, p.ID)
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
	fs := flag.NewFlagSet("provider add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "button label (required)")
	slug := fs.String("slug", "", "short name in URLs (default: from --name)")
	set := map[string]*string{}
	for flagName, key := range map[string]string{"client-id": "client_id", "org-url": "org_url", "tenant": "tenant",
		"discovery-url": "discovery_url", "metadata-url": "idp_metadata_url", "alg": "alg", "jwks-url": "jwks_url",
		"remote-login-url": "remote_login_url", "remote-logout-url": "remote_logout_url", "clock-skew": "clock_skew",
		"issuer": "issuer", "token-audience": "token_audience", "attr-email": "attr_email", "attr-name": "attr_name",
		"attr-company": "attr_company", "attr-groups": "attr_groups", "authoritative-domains": "authoritative_domains"} {
		set[key] = fs.String(flagName, "", key)
	}
	metadataFile := fs.String("metadata-file", "", "IdP metadata XML file (SAML)")
	keyFile := fs.String("key-file", "", "public key PEM file (JWT RS256/ES256)")
	secretFile := fs.String("secret-file", "", "file holding the client secret or JWT shared secret")
	secretStdin := fs.Bool("secret-stdin", false, "read the client secret or JWT shared secret from standard input")
	audience := fs.String("audience", store.AudienceAll, "all or groups")
	groups := fs.String("groups", "", "access groups G1,G2 (implies --audience groups)")
	idpInit := fs.Bool("idp-initiated", false, "allow IdP-initiated SAML sign-in")
	enable := fs.Bool("enable", false, "enable at once")
	noCreate := fs.Bool("no-create", false, "never create contacts on first sign-in")
	trustOrg := fs.Bool("trust-organization", false, "let a new contact join the existing company named by the IdP's organization claim")
	if err := fs.Parse(args[1:]); err != nil {
		return err
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
	if err := providers.Apply(&row, secrets, sealer, false); err != nil {
		var ce *providers.ConfigError
		if errors.As(err, &ce) {
			return fmt.Errorf("%s: %s", ce.Field, t(ce.MessageID))
		}
		return err
	}
	return withStore(ctx, cfg, func(s *store.Store) error {
		p, err := s.IdentityProviderCreate(ctx, store.CLIEditor, row)
		var ve *store.ValidationError
		switch {
		case errors.As(err, &ve):
			for f, id := range ve.Fields {
				return fmt.Errorf("%s: %s", f, t(id))
			}
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
