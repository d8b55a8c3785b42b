-- +goose Up
-- Support forms (issue 6): an admin builds a form from ticket properties, connects it to an
-- inbox and a pipeline, and connects one form to the portal (setting support_form_id). Each
-- submission creates a ticket with a conversation of channel 'form' in the form's inbox.

CREATE TABLE support_forms (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    inbox_id     bigint NOT NULL REFERENCES inboxes (id),
    pipeline_id  bigint NOT NULL REFERENCES pipelines (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX support_forms_name_key ON support_forms (lower(name));

-- One field of a form: a ticket property (subject, description, priority, category) or a
-- custom property (property = 'custom', stored in tickets.properties under prop_key).
-- choices, when not empty, are the only values accepted (a select instead of a text input).
CREATE TABLE support_form_fields (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    form_id   bigint NOT NULL REFERENCES support_forms (id) ON DELETE CASCADE,
    property  text NOT NULL CHECK (property IN ('subject', 'description', 'priority', 'category', 'custom')),
    prop_key  text NOT NULL DEFAULT '',
    label     text NOT NULL DEFAULT '',
    help      text NOT NULL DEFAULT '',
    required  boolean NOT NULL DEFAULT false,
    choices   text[] NOT NULL DEFAULT '{}',
    position  int NOT NULL DEFAULT 0,
    CHECK ((property = 'custom') = (prop_key <> ''))
);
CREATE UNIQUE INDEX support_form_fields_property_key ON support_form_fields (form_id, property, prop_key);
CREATE INDEX support_form_fields_form_idx ON support_form_fields (form_id, position, id);

-- +goose Down
-- Forward-only: Portico never migrates down.
SELECT 1;
