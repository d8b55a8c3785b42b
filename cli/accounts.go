package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"portico/config"
	"portico/sql/store"
)

// cmdAccounts runs `portico accounts invite [--group NAME]` and `portico accounts resend
// --email E`. The mails are enqueued (a running `portico serve` sends them).
func cmdAccounts(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	const use = `usage: portico accounts invite [--group NAME]    mail registration links to access-group members without an account
       portico accounts resend --email E      void a member's pending registration link and mail a new one`
	if err := group(args, use, stdout); err != nil {
		return err
	}
	var groupName, email *string
	var fs *flag.FlagSet
	switch args[0] {
	case "invite":
		fs = newFlags("accounts invite", "accounts invite [--group NAME]", stdout)
		groupName = fs.String("group", "", "only this access group (default: every group in the access_groups setting)")
		email = new(string)
	case "resend":
		fs = newFlags("accounts resend", "accounts resend --email E", stdout)
		email = fs.String("email", "", "the member's email address (required)")
		groupName = new(string)
	default:
		return fmt.Errorf("unknown accounts command %q (run `portico accounts --help`)", args[0])
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if args[0] == "resend" && *email == "" {
		return errors.New("accounts resend: --email is required")
	}
	group := groupName
	return withStore(ctx, cfg, func(s *store.Store) error {
		st, err := s.SettingsGet(ctx)
		if err != nil {
			return err
		}
		if st.SigninMethod != store.SigninAccessGroups {
			return fmt.Errorf("accounts %s: signin_method is %s; set signin_method=access_groups first", args[0], st.SigninMethod)
		}
		switch args[0] {
		case "invite":
			n, err := s.AccountsInviteGroupMembers(ctx, *group)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "registration mails queued: %d\n", n)
			return nil
		case "resend":
			a, err := s.AccountByEmail(ctx, *email)
			var id int64
			if err == nil {
				id = a.Contact.ID
			} else if errors.Is(err, store.ErrNotFound) {
				var c store.Contact
				if c, err = s.ContactByEmail(ctx, *email); err != nil {
					return fmt.Errorf("accounts resend: no contact with email %q", *email)
				}
				id = c.ID
			} else {
				return err
			}
			ok, err := s.AccountInviteResend(ctx, id)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("accounts resend: %s is not in a chosen access group, or already has an account", *email)
			}
			fmt.Fprintf(stdout, "registration mail queued for %s\n", *email)
			return nil
		}
		return nil
	})
}
