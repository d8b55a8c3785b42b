-- +goose Up
-- Issue 10 point 7: a JWT that comes without the state of a sign-in started at Portico is
-- app-initiated and is accepted only where the admin allows it (setting allow_app_initiated),
-- after the customer confirmed "Continue as …?". JWT apps configured before this change sent
-- such tokens and were signed in at once; they keep working (now with the confirmation page).
-- New JWT providers start with it off.
UPDATE identity_providers SET settings = settings || '{"allow_app_initiated": "true"}'::jsonb
    WHERE kind = 'jwt' AND NOT settings ? 'allow_app_initiated';

-- +goose Down
UPDATE identity_providers SET settings = settings - 'allow_app_initiated' WHERE kind = 'jwt';
