ALTER TABLE lc.orders ENABLE ROW LEVEL SECURITY;                     -- pass: PGR-LINT-014
CREATE POLICY all_rows ON lc.orders USING (true);                    -- expect: PGR-LINT-013
CREATE POLICY own_rows ON lc.orders USING (id > 0);                  -- pass: PGR-LINT-013
CREATE POLICY ins ON lc.orders FOR INSERT WITH CHECK (true);         -- expect: PGR-LINT-013
ALTER TABLE lc.orders DISABLE ROW LEVEL SECURITY;                    -- expect: PGR-LINT-014
