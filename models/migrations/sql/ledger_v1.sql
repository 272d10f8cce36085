-- Ledger postings as stored functions: each posting is one round trip, atomic, and raises a coded error
-- (SQLSTATE MFxxx) that leaves nothing written. Loaded by migration 0002.
--   MF001 insufficient points   MF002 idempotency key reused with other content
--   MF003 account or hold not found   MF004 hold already resolved otherwise   MF009 internal inconsistency

CREATE TYPE mf_ledger_result AS (
    transaction_id bigint,
    replayed boolean,
    posted bigint,
    held bigint,
    debt bigint,
    amount bigint,
    shortfall bigint
);

-- Insert the transaction header, or find the one with this key: returns its id, negated for a replay.
CREATE FUNCTION mf_ledger_open_tx(
    p_key text, p_hash text, p_kind text, p_reason text, p_ref_type text, p_ref_id text,
    p_member uuid, p_details jsonb
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
    v_hash text;
BEGIN
    INSERT INTO ledger_transactions
        (idempotency_key, request_hash, kind, reason, reference_type, reference_id, member_id, details)
    VALUES (p_key, p_hash, p_kind, p_reason, p_ref_type, p_ref_id, p_member, coalesce(p_details, '{}'))
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NOT NULL THEN
        RETURN v_id;
    END IF;
    SELECT id, request_hash INTO v_id, v_hash FROM ledger_transactions WHERE idempotency_key = p_key;
    IF v_hash IS DISTINCT FROM p_hash THEN
        RAISE EXCEPTION USING ERRCODE = 'MF002',
            MESSAGE = format('idempotency key %s was already used for a different ledger transaction', p_key),
            DETAIL = json_build_object('transaction_id', v_id, 'idempotency_key', p_key)::text;
    END IF;
    RETURN -v_id;
END $$;

CREATE FUNCTION mf_ledger_replay(p_tx bigint, p_member uuid) RETURNS mf_ledger_result
LANGUAGE sql STABLE AS $$
    SELECT p_tx, true, a.posted, a.held, a.debt,
           coalesce((t.details ->> 'amount')::bigint, 0), coalesce((t.details ->> 'shortfall')::bigint, 0)
    FROM ledger_transactions t LEFT JOIN ledger_accounts a ON a.member_id = p_member
    WHERE t.id = p_tx
$$;

CREATE FUNCTION mf_ledger_system_account(p_code text) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT id FROM ledger_accounts WHERE code = p_code
$$;

CREATE FUNCTION mf_ledger_missing(p_member uuid, p_points bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_available bigint;
BEGIN
    SELECT posted - held INTO v_available FROM ledger_accounts WHERE member_id = p_member;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'MF003', MESSAGE = format('member %s has no points account', p_member);
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'MF001',
        MESSAGE = format('%s points requested, %s available', p_points, v_available),
        DETAIL = json_build_object('requested', p_points, 'available', v_available)::text;
END $$;

-- Take points from the account's lots, oldest expiry first (a preferred lot first, if given).
-- The caller holds the account row lock, so lots of one account are never consumed concurrently.
CREATE FUNCTION mf_ledger_consume_lots(p_account bigint, p_tx bigint, p_points bigint, p_prefer_tx bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_left bigint := p_points;
    v_lot record;
    v_use bigint;
BEGIN
    IF v_left <= 0 THEN
        RETURN;
    END IF;
    FOR v_lot IN
        SELECT id, remaining FROM ledger_lots
        WHERE account_id = p_account AND remaining > 0
        ORDER BY (transaction_id = p_prefer_tx) IS TRUE DESC, expires_at, id
    LOOP
        v_use := least(v_lot.remaining, v_left);
        UPDATE ledger_lots SET remaining = remaining - v_use WHERE id = v_lot.id;
        INSERT INTO ledger_lot_moves (lot_id, transaction_id, amount) VALUES (v_lot.id, p_tx, -v_use);
        v_left := v_left - v_use;
        EXIT WHEN v_left = 0;
    END LOOP;
    IF v_left <> 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'MF009',
            MESSAGE = format('lots of account %s are %s points short of its balance', p_account, v_left);
    END IF;
END $$;

-- Credit a member from a system account (earn, positive adjustment). Debt from earlier clawbacks is
-- repaid first; the rest becomes a lot that expires at p_expires_at.
CREATE FUNCTION mf_ledger_credit(
    p_key text, p_hash text, p_kind text, p_reason text, p_ref_type text, p_ref_id text,
    p_member uuid, p_points bigint, p_source text, p_expires_at timestamptz, p_details jsonb
) RETURNS mf_ledger_result LANGUAGE plpgsql AS $$
DECLARE
    v_acct ledger_accounts%ROWTYPE;
    v_tx bigint;
    v_repay bigint;
    v_net bigint;
    r mf_ledger_result;
BEGIN
    SELECT * INTO v_acct FROM ledger_accounts WHERE member_id = p_member FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'MF003', MESSAGE = format('member %s has no points account', p_member);
    END IF;
    v_repay := least(p_points, v_acct.debt);
    v_net := p_points - v_repay;
    v_tx := mf_ledger_open_tx(p_key, p_hash, p_kind, p_reason, p_ref_type, p_ref_id, p_member,
        coalesce(p_details, '{}') || jsonb_build_object('amount', p_points, 'debt_repaid', v_repay));
    IF v_tx < 0 THEN
        RETURN mf_ledger_replay(-v_tx, p_member);
    END IF;
    UPDATE ledger_accounts SET posted = posted + v_net, debt = debt - v_repay WHERE id = v_acct.id
    RETURNING posted, held, debt INTO r.posted, r.held, r.debt;
    INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after, available_after) VALUES
        (v_tx, v_acct.id, p_points, v_acct.posted + p_points, v_acct.posted + p_points - v_acct.held),
        (v_tx, mf_ledger_system_account(p_source), -p_points, NULL, NULL);
    IF v_repay > 0 THEN
        INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after, available_after) VALUES
            (v_tx, v_acct.id, -v_repay, r.posted, r.posted - r.held),
            (v_tx, mf_ledger_system_account('system:issued'), v_repay, NULL, NULL);
    END IF;
    IF v_net > 0 THEN
        INSERT INTO ledger_lots (account_id, transaction_id, amount, remaining, expires_at)
        VALUES (v_acct.id, v_tx, v_net, v_net, p_expires_at);
    END IF;
    r.transaction_id := v_tx;
    r.replayed := false;
    r.amount := p_points;
    r.shortfall := 0;
    RETURN r;
END $$;

-- Debit a member to a system account (spend, negative adjustment). Fails with MF001 unless the whole
-- amount is available: the balance update itself carries the condition.
CREATE FUNCTION mf_ledger_debit(
    p_key text, p_hash text, p_kind text, p_reason text, p_ref_type text, p_ref_id text,
    p_member uuid, p_points bigint, p_dest text, p_details jsonb
) RETURNS mf_ledger_result LANGUAGE plpgsql AS $$
DECLARE
    v_tx bigint;
    v_account bigint;
    r mf_ledger_result;
BEGIN
    v_tx := mf_ledger_open_tx(p_key, p_hash, p_kind, p_reason, p_ref_type, p_ref_id, p_member,
        coalesce(p_details, '{}') || jsonb_build_object('amount', p_points));
    IF v_tx < 0 THEN
        RETURN mf_ledger_replay(-v_tx, p_member);
    END IF;
    UPDATE ledger_accounts SET posted = posted - p_points
    WHERE member_id = p_member AND posted - held >= p_points
    RETURNING id, posted, held, debt INTO v_account, r.posted, r.held, r.debt;
    IF NOT FOUND THEN
        PERFORM mf_ledger_missing(p_member, p_points);
    END IF;
    PERFORM mf_ledger_consume_lots(v_account, v_tx, p_points, NULL);
    INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after, available_after) VALUES
        (v_tx, v_account, -p_points, r.posted, r.posted - r.held),
        (v_tx, mf_ledger_system_account(p_dest), p_points, NULL, NULL);
    r.transaction_id := v_tx;
    r.replayed := false;
    r.amount := p_points;
    r.shortfall := 0;
    RETURN r;
END $$;

-- Claw back points (a refund): takes what is available, preferring the order's own lot, and records the
-- rest as debt that future earnings repay. Never fails for lack of points.
CREATE FUNCTION mf_ledger_clawback(
    p_key text, p_hash text, p_reason text, p_ref_type text, p_ref_id text,
    p_member uuid, p_points bigint, p_prefer_tx bigint, p_details jsonb
) RETURNS mf_ledger_result LANGUAGE plpgsql AS $$
DECLARE
    v_acct ledger_accounts%ROWTYPE;
    v_tx bigint;
    v_take bigint;
    r mf_ledger_result;
BEGIN
    SELECT * INTO v_acct FROM ledger_accounts WHERE member_id = p_member FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'MF003', MESSAGE = format('member %s has no points account', p_member);
    END IF;
    v_take := least(p_points, v_acct.posted - v_acct.held);
    v_tx := mf_ledger_open_tx(p_key, p_hash, 'refund', p_reason, p_ref_type, p_ref_id, p_member,
        coalesce(p_details, '{}') || jsonb_build_object('amount', v_take, 'shortfall', p_points - v_take));
    IF v_tx < 0 THEN
        RETURN mf_ledger_replay(-v_tx, p_member);
    END IF;
    UPDATE ledger_accounts SET posted = posted - v_take, debt = debt + (p_points - v_take) WHERE id = v_acct.id
    RETURNING posted, held, debt INTO r.posted, r.held, r.debt;
    IF v_take > 0 THEN
        PERFORM mf_ledger_consume_lots(v_acct.id, v_tx, v_take, p_prefer_tx);
        INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after, available_after) VALUES
            (v_tx, v_acct.id, -v_take, r.posted, r.posted - r.held),
            (v_tx, mf_ledger_system_account('system:issued'), v_take, NULL, NULL);
    END IF;
    r.transaction_id := v_tx;
    r.replayed := false;
    r.amount := v_take;
    r.shortfall := p_points - v_take;
    RETURN r;
END $$;

-- Place a hold: available drops, posted does not. The held points leave the lots now (so they cannot
-- expire while reserved) and return to them if the hold is released.
CREATE FUNCTION mf_ledger_hold(
    p_key text, p_hash text, p_reason text, p_ref_type text, p_ref_id text,
    p_member uuid, p_points bigint, p_hold uuid, p_expires_at timestamptz, p_details jsonb
) RETURNS mf_ledger_result LANGUAGE plpgsql AS $$
DECLARE
    v_tx bigint;
    v_account bigint;
    r mf_ledger_result;
BEGIN
    v_tx := mf_ledger_open_tx(p_key, p_hash, 'hold', p_reason, p_ref_type, p_ref_id, p_member,
        coalesce(p_details, '{}') || jsonb_build_object('amount', p_points, 'hold_id', p_hold));
    IF v_tx < 0 THEN
        RETURN mf_ledger_replay(-v_tx, p_member);
    END IF;
    UPDATE ledger_accounts SET held = held + p_points
    WHERE member_id = p_member AND posted - held >= p_points
    RETURNING id, posted, held, debt INTO v_account, r.posted, r.held, r.debt;
    IF NOT FOUND THEN
        PERFORM mf_ledger_missing(p_member, p_points);
    END IF;
    PERFORM mf_ledger_consume_lots(v_account, v_tx, p_points, NULL);
    INSERT INTO ledger_entries (transaction_id, account_id, amount, pending, balance_after, available_after) VALUES
        (v_tx, v_account, -p_points, true, r.posted, r.posted - r.held),
        (v_tx, mf_ledger_system_account('system:redeemed'), p_points, true, NULL, NULL);
    INSERT INTO ledger_holds (id, account_id, member_id, amount, status, expires_at, hold_transaction_id)
    VALUES (p_hold, v_account, p_member, p_points, 'pending', p_expires_at, v_tx);
    r.transaction_id := v_tx;
    r.replayed := false;
    r.amount := p_points;
    r.shortfall := 0;
    RETURN r;
END $$;

-- Resolve a pending hold: 'post' spends it, 'void' or 'expire' release it. Resolving it again the same
-- way returns the first resolution; resolving it the other way fails with MF004.
CREATE FUNCTION mf_ledger_resolve_hold(
    p_key text, p_hash text, p_hold uuid, p_action text, p_reason text, p_details jsonb
) RETURNS mf_ledger_result LANGUAGE plpgsql AS $$
DECLARE
    v_hold ledger_holds%ROWTYPE;
    v_target text;
    v_tx bigint;
    v_redeemed bigint := mf_ledger_system_account('system:redeemed');
    r mf_ledger_result;
BEGIN
    v_target := CASE p_action WHEN 'post' THEN 'posted' WHEN 'void' THEN 'voided' WHEN 'expire' THEN 'expired' END;
    IF v_target IS NULL THEN
        RAISE EXCEPTION 'unknown hold action %', p_action;
    END IF;
    -- Account first, then hold: the same lock order as every other posting.
    PERFORM 1 FROM ledger_accounts a JOIN ledger_holds h ON h.account_id = a.id WHERE h.id = p_hold FOR UPDATE OF a;
    SELECT * INTO v_hold FROM ledger_holds WHERE id = p_hold FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'MF003', MESSAGE = format('hold %s does not exist', p_hold);
    END IF;
    IF v_hold.status <> 'pending' THEN
        IF v_hold.status = v_target OR (p_action <> 'post' AND v_hold.status IN ('voided', 'expired')) THEN
            RETURN mf_ledger_replay(v_hold.resolution_transaction_id, v_hold.member_id);
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'MF004',
            MESSAGE = format('hold %s is already %s', p_hold, v_hold.status),
            DETAIL = json_build_object('status', v_hold.status)::text;
    END IF;
    v_tx := mf_ledger_open_tx(p_key, p_hash, CASE p_action WHEN 'post' THEN 'post' ELSE 'void' END, p_reason,
        'hold', p_hold::text, v_hold.member_id,
        coalesce(p_details, '{}') || jsonb_build_object('amount', v_hold.amount, 'hold_id', p_hold,
                                                       'expired', p_action = 'expire'));
    IF v_tx < 0 THEN
        RETURN mf_ledger_replay(-v_tx, v_hold.member_id);
    END IF;
    IF p_action = 'post' THEN
        UPDATE ledger_accounts SET posted = posted - v_hold.amount, held = held - v_hold.amount
        WHERE id = v_hold.account_id RETURNING posted, held, debt INTO r.posted, r.held, r.debt;
    ELSE
        UPDATE ledger_accounts SET held = held - v_hold.amount
        WHERE id = v_hold.account_id RETURNING posted, held, debt INTO r.posted, r.held, r.debt;
        UPDATE ledger_lots l SET remaining = l.remaining - m.amount
        FROM ledger_lot_moves m WHERE m.transaction_id = v_hold.hold_transaction_id AND l.id = m.lot_id;
        INSERT INTO ledger_lot_moves (lot_id, transaction_id, amount)
        SELECT lot_id, v_tx, -amount FROM ledger_lot_moves WHERE transaction_id = v_hold.hold_transaction_id;
    END IF;
    INSERT INTO ledger_entries (transaction_id, account_id, amount, pending, balance_after, available_after) VALUES
        (v_tx, v_hold.account_id, v_hold.amount, true, r.posted, r.posted - r.held),
        (v_tx, v_redeemed, -v_hold.amount, true, NULL, NULL);
    IF p_action = 'post' THEN
        INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after, available_after) VALUES
            (v_tx, v_hold.account_id, -v_hold.amount, r.posted, r.posted - r.held),
            (v_tx, v_redeemed, v_hold.amount, NULL, NULL);
    END IF;
    UPDATE ledger_holds SET status = v_target, resolution_transaction_id = v_tx, resolved_at = now()
    WHERE id = p_hold;
    r.transaction_id := v_tx;
    r.replayed := false;
    r.amount := v_hold.amount;
    r.shortfall := 0;
    RETURN r;
END $$;

-- Expire up to p_limit lots due at p_now; returns how many lots it expired.
CREATE FUNCTION mf_ledger_expire_lots(p_now timestamptz, p_limit integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_candidate record;
    v_member uuid;
    v_remaining bigint;
    v_round integer;
    v_tx bigint;
    v_posted bigint;
    v_held bigint;
    v_done integer := 0;
BEGIN
    FOR v_candidate IN
        SELECT id, account_id, expires_at FROM ledger_lots
        WHERE remaining > 0 AND expires_at <= p_now ORDER BY expires_at, id LIMIT p_limit
    LOOP
        -- Account first, then lot, as everywhere else; re-read the lot under the lock.
        SELECT member_id INTO v_member FROM ledger_accounts WHERE id = v_candidate.account_id FOR UPDATE;
        SELECT remaining INTO v_remaining FROM ledger_lots WHERE id = v_candidate.id FOR UPDATE;
        CONTINUE WHEN v_remaining = 0;
        -- A lot can expire more than once (a released hold gives points back to it); number the rounds.
        SELECT count(*) INTO v_round FROM ledger_lot_moves m JOIN ledger_transactions t ON t.id = m.transaction_id
        WHERE m.lot_id = v_candidate.id AND t.kind = 'expire';
        v_tx := mf_ledger_open_tx(
            format('expire:lot:%s:%s', v_candidate.id, v_round), md5(format('%s:%s', v_candidate.id, v_round)),
            'expire', format('%s points earned expired on %s', v_remaining,
                             to_char(v_candidate.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')),
            'lot', v_candidate.id::text, v_member, jsonb_build_object('amount', v_remaining));
        UPDATE ledger_accounts SET posted = posted - v_remaining WHERE id = v_candidate.account_id
        RETURNING posted, held INTO v_posted, v_held;
        UPDATE ledger_lots SET remaining = 0 WHERE id = v_candidate.id;
        INSERT INTO ledger_lot_moves (lot_id, transaction_id, amount) VALUES (v_candidate.id, v_tx, -v_remaining);
        INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after, available_after) VALUES
            (v_tx, v_candidate.account_id, -v_remaining, v_posted, v_posted - v_held),
            (v_tx, mf_ledger_system_account('system:expired'), v_remaining, NULL, NULL);
        v_done := v_done + 1;
    END LOOP;
    RETURN v_done;
END $$;
