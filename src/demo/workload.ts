/**
 * The demo's writer: a steady mix of shop transactions on the source at a fixed rate — new
 * orders (several statements in one transaction), status changes, customer edits, restocks,
 * deletes, and every few seconds a price change that touches a whole category.
 */
import mysql, { type Pool, type PoolConnection, type ResultSetHeader } from 'mysql2/promise';
import type { Logger } from '../core/logger.js';
import { CATEGORIES, customerRow, CUSTOMER_COLUMNS, EMOJI, NOTES, productRow, productSku, PRODUCT_COLUMNS, Rng, TIERS, type SeedSizes } from './shop.js';

export interface WorkloadOptions {
  /** The source database, e.g. mysql://root@127.0.0.1:PORT/shop. */
  readonly url: string;
  /** Transactions per second. */
  readonly rate: number;
  /** What the shop was seeded with (the ranges of existing ids). */
  readonly sizes: SeedSizes;
  readonly logger: Logger;
  /** At most this many transactions in flight; beyond it the writer skips rather than queues. */
  readonly concurrency?: number;
  /** Milliseconds between category-wide price changes (default 10 s). */
  readonly priceChangeEveryMs?: number;
  readonly seed?: number;
}

export interface WorkloadStats {
  /** Transactions committed. */
  readonly committed: number;
  /** Transactions that failed (deadlocks are retried once first). */
  readonly failed: number;
  /** Transactions not started because too many were in flight. */
  readonly skipped: number;
  /** Rows the price changes touched. */
  readonly repriced: number;
}

type Tx = (c: PoolConnection) => Promise<void>;

const TICK_MS = 20;

/** A bounded writer: `start()`, then `stop()` waits for the transactions in flight and closes its pool. */
export class Workload {
  private readonly opts: WorkloadOptions;
  private readonly rng: Rng;
  private pool: Pool | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private startedAt = 0;
  private launched = 0;
  private nextPriceChange = 0;
  private maxCustomer: number;
  private maxOrder: number;
  private readonly nextProduct: number[];
  private readonly stats_ = { committed: 0, failed: 0, skipped: 0, repriced: 0 };
  private lastWarn = 0;
  private readonly mix: readonly [number, Tx][];

  constructor(opts: WorkloadOptions) {
    this.opts = opts;
    this.rng = new Rng(opts.seed ?? 7);
    this.maxCustomer = opts.sizes.customers;
    this.maxOrder = opts.sizes.orders;
    this.nextProduct = CATEGORIES.map(() => opts.sizes.productsPerCategory + 1);
    this.mix = [
      [30, (c) => this.newOrder(c)],
      [25, (c) => this.advanceOrder(c)],
      [12, (c) => this.editCustomer(c)],
      [8, (c) => this.newCustomer(c)],
      [10, (c) => this.restock(c)],
      [8, (c) => this.deleteOrder(c)],
      [2, (c) => this.deleteCustomer(c)],
      [3, (c) => this.newProduct(c)],
      [2, (c) => this.editItem(c)],
    ];
  }

  stats(): WorkloadStats {
    return { ...this.stats_ };
  }

  start(): void {
    if (this.timer) return;
    this.pool = mysql.createPool({
      uri: this.opts.url,
      connectionLimit: this.opts.concurrency ?? 8,
      charset: 'UTF8MB4_GENERAL_CI',
      timezone: 'Z',
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
    this.startedAt = Date.now();
    this.nextPriceChange = this.startedAt + (this.opts.priceChangeEveryMs ?? 10_000) / 2;
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Stops starting transactions, waits for those in flight, closes the pool. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inFlight]);
    await this.pool?.end().catch(() => undefined);
    this.pool = undefined;
  }

  private tick(): void {
    const now = Date.now();
    const due = Math.floor(((now - this.startedAt) * this.opts.rate) / 1000) - this.launched;
    const limit = this.opts.concurrency ?? 8;
    for (let i = 0; i < due; i++) {
      this.launched++;
      if (this.inFlight.size >= limit * 2) {
        // Behind: skip instead of queueing, so the writer's memory and the demo's stop stay bounded.
        this.stats_.skipped++;
        continue;
      }
      this.launch(this.pickTx());
    }
    if (now >= this.nextPriceChange) {
      this.nextPriceChange = now + (this.opts.priceChangeEveryMs ?? 10_000);
      this.launch((c) => this.priceChange(c));
    }
  }

  private pickTx(): Tx {
    let r = this.rng.int(1, this.mix.reduce((a, [w]) => a + w, 0));
    for (const [w, tx] of this.mix) {
      if ((r -= w) <= 0) return tx;
    }
    return (this.mix[0] as [number, Tx])[1];
  }

  private launch(tx: Tx): void {
    const p = this.runTx(tx).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private async runTx(tx: Tx): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    for (let attempt = 1; ; attempt++) {
      let c: PoolConnection | undefined;
      try {
        c = await pool.getConnection();
        await tx(c);
        this.stats_.committed++;
        return;
      } catch (err) {
        await c?.rollback().catch(() => undefined);
        const code = (err as { code?: string }).code;
        if (attempt === 1 && (code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT')) continue;
        this.stats_.failed++;
        if (Date.now() - this.lastWarn > 5000) {
          this.lastWarn = Date.now();
          this.opts.logger.warn({ err: (err as Error).message, failed: this.stats_.failed }, 'demo workload: a transaction failed');
        }
        return;
      } finally {
        c?.release();
      }
    }
  }

  private randomSku(): string {
    const ci = this.rng.int(0, CATEGORIES.length - 1);
    return productSku(ci, this.rng.int(1, (this.nextProduct[ci] as number) - 1));
  }

  /** Several statements in one transaction: the order, its lines, the stock, the total. */
  private async newOrder(c: PoolConnection): Promise<void> {
    const skus = [...new Set(Array.from({ length: this.rng.int(1, 4) }, () => this.randomSku()))].sort();
    const customer = this.rng.int(1, this.maxCustomer);
    const note = this.rng.chance(0.2) ? this.rng.pick(NOTES) : null;
    await c.beginTransaction();
    const [res] = await c.query<ResultSetHeader>(
      "INSERT INTO orders (customer_id, status, total, currency, note, created_at, updated_at) VALUES (?, 'new', 0, 'EUR', ?, NOW(6), NOW(6))",
      [customer, note],
    );
    const id = res.insertId;
    let line = 0;
    for (const sku of skus) {
      const qty = this.rng.int(1, 3);
      await c.query('UPDATE products SET stock = stock - ?, updated_at = NOW(6) WHERE sku = ?', [qty, sku]);
      await c.query('INSERT INTO order_items (order_id, line_no, sku, qty, unit_price) SELECT ?, ?, sku, ?, price FROM products WHERE sku = ?', [id, ++line, qty, sku]);
    }
    await c.query('UPDATE orders SET total = (SELECT COALESCE(SUM(qty * unit_price), 0) FROM order_items WHERE order_id = ?) WHERE id = ?', [id, id]);
    await c.commit();
    this.maxOrder = Math.max(this.maxOrder, id);
  }

  private async advanceOrder(c: PoolConnection): Promise<void> {
    // Mostly recent orders, as in a real shop.
    const id = Math.max(1, this.maxOrder - this.rng.int(0, this.rng.chance(0.8) ? 500 : this.maxOrder));
    await c.query(
      `UPDATE orders SET status = CASE status WHEN 'new' THEN 'paid' WHEN 'paid' THEN 'shipped' WHEN 'shipped' THEN 'delivered' ELSE status END,
              updated_at = NOW(6) WHERE id = ?`,
      [id],
    );
  }

  private async editCustomer(c: PoolConnection): Promise<void> {
    const id = this.rng.int(1, this.maxCustomer);
    await c.query(
      "UPDATE customers SET tier = ?, prefs = JSON_SET(COALESCE(prefs, '{}'), '$.newsletter', ?, '$.favourite', ?) WHERE id = ?",
      [this.rng.pick(TIERS), this.rng.chance(0.5), this.rng.pick(EMOJI), id],
    );
  }

  private async newCustomer(c: PoolConnection): Promise<void> {
    const row = customerRow(this.rng, null, Date.now());
    const [res] = await c.query<ResultSetHeader>(`INSERT INTO customers (${CUSTOMER_COLUMNS}) VALUES (?)`, [row]);
    this.maxCustomer = Math.max(this.maxCustomer, res.insertId);
  }

  private async restock(c: PoolConnection): Promise<void> {
    await c.query('UPDATE products SET stock = stock + ?, updated_at = NOW(6) WHERE sku = ?', [this.rng.int(10, 100), this.randomSku()]);
  }

  private async deleteOrder(c: PoolConnection): Promise<void> {
    const id = this.rng.int(1, this.maxOrder);
    await c.beginTransaction();
    await c.query('DELETE FROM order_items WHERE order_id = ?', [id]);
    await c.query('DELETE FROM orders WHERE id = ?', [id]);
    await c.commit();
  }

  private async deleteCustomer(c: PoolConnection): Promise<void> {
    await c.query('DELETE FROM customers WHERE id = ?', [this.rng.int(1, this.maxCustomer)]);
  }

  /** A new key in the middle of the VARCHAR key space, not at its end. */
  private async newProduct(c: PoolConnection): Promise<void> {
    const ci = this.rng.int(0, CATEGORIES.length - 1);
    const n = this.nextProduct[ci] as number;
    this.nextProduct[ci] = n + 1; // before the await: concurrent inserts must not pick the same key
    const row = productRow(this.rng, productSku(ci, n), ci, Date.now());
    await c.query(`INSERT INTO products (${PRODUCT_COLUMNS}) VALUES (?)`, [row]);
  }

  private async editItem(c: PoolConnection): Promise<void> {
    const id = this.rng.int(1, this.maxOrder);
    await c.beginTransaction();
    await c.query('UPDATE order_items SET qty = qty + 1 WHERE order_id = ? AND line_no = 1', [id]);
    await c.query('UPDATE orders SET total = (SELECT COALESCE(SUM(qty * unit_price), 0) FROM order_items WHERE order_id = ?), updated_at = NOW(6) WHERE id = ?', [id, id]);
    await c.commit();
  }

  /** One statement that changes every product of a category (a few hundred rows). */
  private async priceChange(c: PoolConnection): Promise<void> {
    const cat = this.rng.pick(CATEGORIES).name;
    const factor = this.rng.pick(['0.97', '1.02', '1.05']);
    const [res] = await c.query<ResultSetHeader>('UPDATE products SET price = ROUND(price * ?, 2), updated_at = NOW(6) WHERE category = ?', [factor, cat]);
    this.stats_.repriced += res.affectedRows;
  }
}
