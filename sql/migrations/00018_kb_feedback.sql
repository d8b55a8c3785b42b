-- +goose Up
-- "Was this article helpful?" (issue 14): one row per answer, per article and language, so that
-- the share of helpful answers can be reported per article and period. No reader identity is
-- kept.
CREATE TABLE kb_feedback (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    article_id  bigint NOT NULL REFERENCES kb_articles (id) ON DELETE CASCADE,
    lang        text NOT NULL CHECK (lang ~ '^[a-z]{2,3}$'),
    helpful     boolean NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kb_feedback_article_idx ON kb_feedback (article_id);
