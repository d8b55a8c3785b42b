-- name: CompanyList :many
-- Companies whose name matches pattern (an ILIKE pattern; every company when q is empty), by
-- name, with their contact counts, at most 200.
SELECT co.id, co.name, coalesce(co.domain, '')::text AS domain,
    (SELECT count(*) FROM contacts c WHERE c.company_id = co.id) AS contacts
FROM companies co WHERE @q::text = '' OR co.name ILIKE @pattern::text ORDER BY lower(co.name) LIMIT 200;

-- name: CompanyGet :one
SELECT id, name, coalesce(domain, '')::text AS domain FROM companies WHERE id = @id;

-- name: CompanyEnsure :one
-- The company named name, created when missing (names are unique case-insensitively).
INSERT INTO companies (name) VALUES (@name)
ON CONFLICT (lower(name)) DO UPDATE SET name = companies.name RETURNING id;
