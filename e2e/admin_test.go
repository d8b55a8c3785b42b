package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"portico/auth"
	"portico/sql/store"
)

// TestAdminRenamesTicketsAndSwitchesPermissions: an admin signs in at /admin/login, renames the
// tickets label to "Cases" and switches ticket permissions to company mode in the generated
// settings forms; a customer then sees "Cases" and the View menu.
func TestAdminRenamesTicketsAndSwitchesPermissions(t *testing.T) {
	p := startPortal(t)
	ctx := context.Background()
	if err := p.Store.SettingSet(ctx, "ticket_permissions", "own"); err != nil { // undo startPortal's company mode
		t.Fatal(err)
	}
	const email, password = "ada@portico.test", "admin password 123"
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Store.StaffAdd(ctx, email, "Ada Admin", store.RoleAdmin, hash); err != nil {
		t.Fatal(err)
	}

	admin := newBrowser(t, p.URL, browserOptions{})
	admin.navigate("/admin/login")
	admin.visible("#email")
	admin.do("type the staff credentials",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password))
	if st := admin.follow("click Sign in", chromedp.Click(chromedp.CSS("#sign-in"))); st != http.StatusOK {
		t.Fatalf("staff sign-in: %d on %s", st, admin.location())
	}
	admin.visible("#inbox-table")

	admin.navigate("/admin/settings/portal")
	admin.visible("#s-tickets_label")
	admin.do("type the new label", chromedp.Evaluate[chromedp.Void](`document.querySelector("#s-tickets_label").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#s-tickets_label"), "Cases"))
	if st := admin.follow("save the portal settings", chromedp.Click(chromedp.CSS("#settings-save"))); st != http.StatusOK {
		t.Fatalf("save portal settings: %d", st)
	}
	admin.visible("#saved")

	admin.navigate("/admin/settings/tickets")
	admin.visible("#s-ticket_permissions")
	admin.do("choose company permissions", chromedp.Evaluate[chromedp.Void](`document.querySelector("#s-ticket_permissions").value = "company"`))
	if st := admin.follow("save the ticket settings", chromedp.Click(chromedp.CSS("#settings-save"))); st != http.StatusOK {
		t.Fatalf("save ticket settings: %d", st)
	}
	admin.visible("#saved")

	customer := newBrowser(t, p.URL, browserOptions{})
	customer.navigate("/login")
	signIn(customer, p.Std.AliceEmail, p.Std.Password)
	if h := customer.text("main h1"); h != "Cases" {
		t.Errorf("customer heading = %q, want Cases", h)
	}
	if nav := customer.text("header nav"); !strings.Contains(nav, "Cases") {
		t.Errorf("customer nav = %q, want the Cases label", nav)
	}
	customer.visible("#view-menu")
}
