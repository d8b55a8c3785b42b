-- name: BrandingAssetPut :exec
INSERT INTO branding_assets (name, content_type, data, sha256) VALUES (@name, @content_type, @data, @sha256)
ON CONFLICT (name) DO UPDATE SET content_type = EXCLUDED.content_type, data = EXCLUDED.data, sha256 = EXCLUDED.sha256, updated_at = now();

-- name: BrandingAssetGet :one
SELECT content_type, data, sha256 FROM branding_assets WHERE name = @name;

-- name: BrandingAssetDelete :exec
DELETE FROM branding_assets WHERE name = @name;
