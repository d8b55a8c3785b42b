-- name: KBFeedbackAdd :exec
INSERT INTO kb_feedback (article_id, lang, helpful) VALUES (@article_id, @lang, @helpful);

-- name: KBFeedbackTally :one
SELECT count(*) FILTER (WHERE helpful)::bigint AS yes, count(*)::bigint AS total FROM kb_feedback WHERE article_id = @article_id;
