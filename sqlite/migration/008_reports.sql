-- The auditors' redemption reports cover a span of days: an index on the
-- time makes them read that span only, not the whole ledger. Times only
-- grow, so each redemption appends to the index's last page.
CREATE INDEX redemptions_created_at ON redemptions (created_at);
