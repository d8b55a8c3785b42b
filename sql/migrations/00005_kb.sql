-- +goose Up
-- Knowledge base (issue 7): categories and articles, each article in one or more languages.
-- Visibility is per article: public (anyone), portal (signed-in customers and staff) or internal
-- (staff only). Each translation is published on its own and searched with the PostgreSQL text
-- search configuration of its language (english, dutch, german, french, spanish; else simple),
-- through a stored generated tsvector and a GIN index.

CREATE TABLE kb_categories (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    -- names maps a language code to the category's name in it ({"en": "Billing", "de": "Rechnungen"}).
    names       jsonb NOT NULL DEFAULT '{}'::jsonb,
    position    int NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE kb_articles (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug         text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    category_id  bigint REFERENCES kb_categories (id) ON DELETE SET NULL,
    visibility   text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'portal', 'internal')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kb_articles_category_idx ON kb_articles (category_id);

CREATE TABLE kb_translations (
    article_id    bigint NOT NULL REFERENCES kb_articles (id) ON DELETE CASCADE,
    lang          text NOT NULL CHECK (lang ~ '^[a-z]{2,3}$'),
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body_md       text NOT NULL DEFAULT '',
    -- body_html is body_md rendered (goldmark) and sanitised (bluemonday UGC policy) on save.
    body_html     text NOT NULL DEFAULT '',
    published     boolean NOT NULL DEFAULT false,
    published_at  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- The language's text search configuration: the constant casts make the expression immutable.
    search        tsvector GENERATED ALWAYS AS (
        CASE lang
            WHEN 'en' THEN setweight(to_tsvector('english'::regconfig, title), 'A') || setweight(to_tsvector('english'::regconfig, body_md), 'B')
            WHEN 'nl' THEN setweight(to_tsvector('dutch'::regconfig, title), 'A') || setweight(to_tsvector('dutch'::regconfig, body_md), 'B')
            WHEN 'de' THEN setweight(to_tsvector('german'::regconfig, title), 'A') || setweight(to_tsvector('german'::regconfig, body_md), 'B')
            WHEN 'fr' THEN setweight(to_tsvector('french'::regconfig, title), 'A') || setweight(to_tsvector('french'::regconfig, body_md), 'B')
            WHEN 'es' THEN setweight(to_tsvector('spanish'::regconfig, title), 'A') || setweight(to_tsvector('spanish'::regconfig, body_md), 'B')
            ELSE setweight(to_tsvector('simple'::regconfig, title), 'A') || setweight(to_tsvector('simple'::regconfig, body_md), 'B')
        END) STORED,
    PRIMARY KEY (article_id, lang)
);
CREATE INDEX kb_translations_search_idx ON kb_translations USING gin (search);
CREATE INDEX kb_translations_lang_idx ON kb_translations (lang) WHERE published;

-- +goose Down
SELECT 1;
