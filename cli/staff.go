package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"portico/auth"
	"portico/config"
	"portico/sql/store"
)

// cmdStaff runs `portico staff add --email E --name N --role admin|agent` (password from stdin).
func cmdStaff(ctx context.Context, cfg *config.Config, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	const use = `usage: portico staff add --email E --name N --role admin|agent    (password read from standard input)
       portico staff reset-totp --email E    turn off a staff user's two-step sign-in`
	if err := group(args, use, stdout); err != nil {
		return err
	}
	if args[0] == "reset-totp" {
		return cmdStaffResetTOTP(ctx, cfg, args[1:], stdout, stderr)
	}
	if args[0] != "add" {
		return fmt.Errorf("unknown staff command %q (run `portico staff --help`)", args[0])
	}
	fs := newFlags("staff add", "staff add --email E --name N --role admin|agent    (password read from standard input)", stdout)
	email := fs.String("email", "", "the staff user's email address (required)")
	name := fs.String("name", "", "the staff user's name (required)")
	role := fs.String("role", "", "admin or agent (required)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *role != store.RoleAdmin && *role != store.RoleAgent {
		return errors.New("staff add: --role must be admin or agent")
	}
	pw, err := readPassword(stdin, stderr)
	if err != nil {
		return err
	}
	if err := checkPassword("staff add", pw); err != nil {
		return err
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, func(s *store.Store) error {
		st, err := s.StaffAdd(ctx, *email, *name, *role, hash)
		if err != nil {
			return describe("staff add", err)
		}
		fmt.Fprintf(stdout, "staff %d added: %s <%s> (%s)\n", st.ID, st.Name, st.Email, st.Role)
		return nil
	})
}

// cmdGroup runs `portico group create|add-member|remove-member|list`.
func cmdGroup(ctx context.Context, cfg *config.Config, args []string, stdout io.Writer) error {
	const use = `usage: portico group create NAME              create an access group
       portico group add-member NAME EMAIL…    add contacts to an access group
       portico group remove-member NAME EMAIL… remove contacts from an access group
       portico group list                      list access groups with member counts`
	if err := group(args, use, stdout); err != nil {
		return err
	}
	if wantsHelp(args[1:]) {
		fmt.Fprintln(stdout, use)
		return flag.ErrHelp
	}
	return withStore(ctx, cfg, func(s *store.Store) error {
		switch args[0] {
		case "create":
			if len(args) != 2 {
				return errors.New("usage: portico group create NAME")
			}
			g, err := s.GroupCreateAs(ctx, store.CLIEditor, args[1])
			if err != nil {
				return describe("group create", err)
			}
			fmt.Fprintf(stdout, "group %d created: %s\n", g.ID, g.Name)
			return nil
		case "add-member", "remove-member":
			if len(args) < 3 {
				return fmt.Errorf("usage: portico group %s NAME EMAIL…", args[0])
			}
			g, err := s.GroupByName(ctx, args[1])
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("group %s: no group named %q", args[0], args[1])
			}
			if err != nil {
				return err
			}
			if args[0] == "add-member" {
				n, err := s.GroupAddMembersAs(ctx, store.CLIEditor, g.ID, args[2:])
				var ue *store.UnknownEmailsError
				if errors.As(err, &ue) {
					return fmt.Errorf("group add-member: %s (nothing added)", ue.Error())
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%d added to %s\n", n, g.Name)
				return nil
			}
			n, err := s.GroupRemoveMembers(ctx, store.CLIEditor, g.ID, args[2:])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%d removed from %s\n", n, g.Name)
			return nil
		case "list":
			gs, err := s.GroupList(ctx)
			if err != nil {
				return err
			}
			for _, g := range gs {
				fmt.Fprintf(stdout, "%s\t%d members\n", g.Name, g.Members)
			}
			return nil
		}
		return errors.New(use)
	})
}

// cmdStaffResetTOTP turns off the second factor of a staff user who lost their authenticator
// (`portico staff reset-totp --email E`), audited as done by "cli"; the user enrols again.
func cmdStaffResetTOTP(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("staff reset-totp", "staff reset-totp --email E    (turns off two-step sign-in; the user enrols again)", stdout)
	email := fs.String("email", "", "the staff user's email address (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		return errors.New("staff reset-totp: --email is required")
	}
	return withStore(ctx, cfg, func(s *store.Store) error {
		st, _, err := s.StaffByEmail(ctx, *email)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("staff reset-totp: no staff user with email %q", *email)
		}
		if err != nil {
			return err
		}
		if err := s.StaffTOTPDisable(ctx, store.CLIEditor, st.ID); err != nil {
			return fmt.Errorf("staff reset-totp: %w", err)
		}
		fmt.Fprintf(stdout, "two-step sign-in turned off for %s; they can enrol again at /admin/account/totp\n", st.Email)
		return nil
	})
}
