-- +goose Up
-- Whether a new SSO contact may join an existing company because the IdP's organization claim
-- names it (off by default: a name alone proves nothing, and with ticket_permissions=company
-- membership shows the company's tickets).
ALTER TABLE identity_providers ADD COLUMN trust_organization boolean NOT NULL DEFAULT false;
