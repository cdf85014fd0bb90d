-- Confirming a sales order on PostgreSQL, in one round trip (core.sales.confirm_sales_order).
--
-- The same steps as the portable Python path, in the same lock order: the order row, the customer
-- (only when it has a credit limit), then every lot of the order's products in the warehouse in lot id
-- order. A refusal writes nothing and says why in `outcome`, with the figures the Chinese message needs:
--   not_draft  the order is no draft (or does not exist)
--   credit     the customer's exposure would pass the credit limit and no allowed override was given
--   short      a product (the first by id) has less usable stock than its lines need
--   confirmed  reserved lot by lot, earliest expiry first, expired lots skipped; audit row written
-- Quantities and money are the scaled integers of core/columns.py. This file is frozen once released:
-- a change is a new file (v2) and a new migration, as for tables.
CREATE OR REPLACE FUNCTION psibot_confirm_sales_order(
    p_order_id integer,
    p_actor_id integer,
    p_now timestamptz,
    p_today date,
    p_override_by integer,
    p_audit_at timestamptz
) RETURNS TABLE (
    outcome text,
    number varchar,
    customer_id integer,
    warehouse_id integer,
    total bigint,
    credit_override_by integer,
    customer_name varchar,
    credit_limit bigint,
    owed bigint,
    unshipped bigint,
    product_id integer,
    available bigint,
    needed bigint
)
LANGUAGE plpgsql AS $$
DECLARE
    v_order sales_orders%ROWTYPE;
    v_customer customers%ROWTYPE;
    v_owed bigint := 0;
    v_unshipped bigint := 0;
    v_override integer;
    v_product record;
    v_line record;
    v_lot record;
    v_missing bigint;
    v_take bigint;
BEGIN
    SELECT * INTO v_order FROM sales_orders o WHERE o.id = p_order_id FOR UPDATE;
    IF NOT FOUND OR v_order.status <> 'DRAFT' THEN
        RETURN QUERY SELECT 'not_draft'::text, NULL::varchar, NULL::integer, NULL::integer, NULL::bigint,
            NULL::integer, NULL::varchar, NULL::bigint, NULL::bigint, NULL::bigint, NULL::integer, NULL::bigint,
            NULL::bigint;
        RETURN;
    END IF;
    v_override := v_order.credit_override_by;

    -- Credit: open receivables + the customer's other committed orders not yet shipped + this order.
    SELECT * INTO v_customer FROM customers c WHERE c.id = v_order.customer_id;
    IF v_customer.credit_limit IS NOT NULL THEN
        SELECT * INTO v_customer FROM customers c WHERE c.id = v_order.customer_id FOR UPDATE;
        SELECT coalesce(sum(r.amount - r.paid), 0) INTO v_owed FROM receivables r WHERE r.customer_id = v_customer.id;
        SELECT coalesce(sum(o.total), 0) - coalesce(
                   (SELECT sum(l.shipped_amount) FROM sales_order_lines l JOIN sales_orders s ON s.id = l.order_id
                    WHERE s.customer_id = v_customer.id AND s.status IN ('CONFIRMED', 'PARTIALLY_SHIPPED')
                      AND s.id <> p_order_id), 0)
          INTO v_unshipped
          FROM sales_orders o
         WHERE o.customer_id = v_customer.id AND o.status IN ('CONFIRMED', 'PARTIALLY_SHIPPED') AND o.id <> p_order_id;
        IF v_owed + v_unshipped + v_order.total > v_customer.credit_limit THEN
            IF p_override_by IS NULL THEN
                RETURN QUERY SELECT 'credit'::text, v_order.number, v_order.customer_id, v_order.warehouse_id,
                    v_order.total, v_order.credit_override_by, v_customer.name, v_customer.credit_limit, v_owed,
                    v_unshipped, NULL::integer, NULL::bigint, NULL::bigint;
                RETURN;
            END IF;
            v_override := p_override_by;
        END IF;
    END IF;

    -- Lock the lots of every product of the order in the warehouse, in lot id order (no deadlocks).
    PERFORM 1 FROM lots t
      WHERE t.warehouse_id = v_order.warehouse_id
        AND t.product_id IN (SELECT l.product_id FROM sales_order_lines l WHERE l.order_id = p_order_id)
      ORDER BY t.id FOR UPDATE;

    -- Refuse the whole order if any product is short, before anything is written.
    FOR v_product IN
        SELECT l.product_id, sum(l.quantity) AS needed FROM sales_order_lines l
         WHERE l.order_id = p_order_id GROUP BY l.product_id ORDER BY l.product_id
    LOOP
        SELECT coalesce(sum(t.on_hand - t.reserved), 0) INTO v_take FROM lots t
         WHERE t.product_id = v_product.product_id AND t.warehouse_id = v_order.warehouse_id
           AND t.on_hand > t.reserved AND (t.expiry_date IS NULL OR t.expiry_date >= p_today);
        IF v_product.needed > v_take THEN
            RETURN QUERY SELECT 'short'::text, v_order.number, v_order.customer_id, v_order.warehouse_id,
                v_order.total, v_order.credit_override_by, NULL::varchar, NULL::bigint, NULL::bigint, NULL::bigint,
                v_product.product_id, v_take, v_product.needed::bigint;
            RETURN;
        END IF;
    END LOOP;

    UPDATE sales_orders o SET status = 'CONFIRMED', confirmed_at = p_now, credit_override_by = v_override
     WHERE o.id = p_order_id;
    INSERT INTO audit_log (at, user_id, entity, entity_id, action, before, after)
    VALUES (p_audit_at, p_actor_id, 'sales_order', p_order_id, 'confirm', json_build_object('status', 'draft'),
            json_build_object('status', 'confirmed', 'credit_override_by', v_override));

    -- Each product's lines in line order take its usable lots earliest expiry first (no expiry last).
    FOR v_line IN
        SELECT l.id, l.product_id, l.quantity FROM sales_order_lines l
         WHERE l.order_id = p_order_id ORDER BY l.product_id, l.line_no
    LOOP
        v_missing := v_line.quantity;
        FOR v_lot IN
            SELECT t.id, t.on_hand - t.reserved AS free FROM lots t
             WHERE t.product_id = v_line.product_id AND t.warehouse_id = v_order.warehouse_id
               AND t.on_hand > t.reserved AND (t.expiry_date IS NULL OR t.expiry_date >= p_today)
             ORDER BY t.expiry_date NULLS LAST, t.id
        LOOP
            EXIT WHEN v_missing = 0;
            v_take := least(v_missing, v_lot.free);
            UPDATE lots t SET reserved = t.reserved + v_take WHERE t.id = v_lot.id;
            INSERT INTO reservations (order_line_id, lot_id, quantity) VALUES (v_line.id, v_lot.id, v_take);
            v_missing := v_missing - v_take;
        END LOOP;
    END LOOP;

    RETURN QUERY SELECT 'confirmed'::text, v_order.number, v_order.customer_id, v_order.warehouse_id, v_order.total,
        v_override, NULL::varchar, NULL::bigint, NULL::bigint, NULL::bigint, NULL::integer, NULL::bigint,
        NULL::bigint;
END;
$$;
