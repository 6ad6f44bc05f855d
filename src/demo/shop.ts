/**
 * The demo's shop: a small schema with the shapes real databases have (auto-increment keys, a
 * VARCHAR key, a composite key) and the types that are easy to get wrong (DECIMAL, DATETIME(6),
 * JSON, ENUM, utf8mb4 text with emoji, DOUBLE, BINARY, NULLs), plus deterministic seed data.
 */
import type { Connection } from 'mysql2/promise';

export const SHOP_DATABASE = 'shop';

/** The shop's tables, in the order the demo reports them. */
export const SHOP_TABLES = ['customers', 'products', 'orders', 'order_items'] as const;

/**
 * No foreign keys and no secondary UNIQUE keys: the demo writes as an application would, and
 * the sync applies changes per key, not in the application's statement order.
 */
export const SHOP_DDL: readonly string[] = [
  `CREATE TABLE customers (
     id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
     email VARCHAR(191) NOT NULL,
     name VARCHAR(100) NOT NULL,
     country CHAR(2) NOT NULL,
     tier ENUM('bronze','silver','gold') NOT NULL DEFAULT 'bronze',
     prefs JSON NULL,
     token BINARY(8) NOT NULL,
     created_at DATETIME(6) NOT NULL,
     PRIMARY KEY (id),
     KEY ix_customers_email (email)
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE products (
     sku VARCHAR(32) NOT NULL,
     name VARCHAR(200) NOT NULL,
     category VARCHAR(32) NOT NULL,
     price DECIMAL(10,2) NOT NULL,
     weight_kg DOUBLE NULL,
     stock INT NOT NULL,
     description TEXT NULL,
     updated_at DATETIME(6) NOT NULL,
     PRIMARY KEY (sku),
     KEY ix_products_category (category)
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE orders (
     id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
     customer_id BIGINT UNSIGNED NOT NULL,
     status ENUM('new','paid','shipped','delivered','cancelled') NOT NULL DEFAULT 'new',
     total DECIMAL(12,2) NOT NULL,
     currency CHAR(3) NOT NULL DEFAULT 'EUR',
     note VARCHAR(255) NULL,
     created_at DATETIME(6) NOT NULL,
     updated_at DATETIME(6) NOT NULL,
     PRIMARY KEY (id),
     KEY ix_orders_customer (customer_id)
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE order_items (
     order_id BIGINT UNSIGNED NOT NULL,
     line_no SMALLINT UNSIGNED NOT NULL,
     sku VARCHAR(32) NOT NULL,
     qty INT NOT NULL,
     unit_price DECIMAL(10,2) NOT NULL,
     PRIMARY KEY (order_id, line_no)
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
];

/**
 * Product categories and their SKU prefixes. Mixed case on purpose: under the `_ci` collation
 * 'cof-…' sorts between 'BOOK-…' and 'MUG-…', not after every upper-case key as bytes would.
 */
export const CATEGORIES: readonly { readonly name: string; readonly prefix: string }[] = [
  { name: 'tea', prefix: 'TEA' },
  { name: 'coffee', prefix: 'cof' },
  { name: 'mugs', prefix: 'MUG' },
  { name: 'books', prefix: 'Book' },
  { name: 'games', prefix: 'gam' },
  { name: 'plants', prefix: 'PLT' },
  { name: 'snacks', prefix: 'snk' },
  { name: 'gifts', prefix: 'Gft' },
];

const FIRST = ['Ada', 'Zoë', 'José', 'Søren', 'Amélie', 'Łukasz', 'Ngozi', 'Hiroshi', 'Priya', 'Olúmìdé', 'Björk', 'Mei', 'Ana', 'Youssef', 'Ines', 'Dmitri', '李', 'Σοφία'];
const LAST = ['Lovelace', 'Müller', 'García', 'Kowalski', 'Nakamura', 'O’Brien', 'Nguyễn', 'Okafor', 'Svensson', 'Rossi', 'Dubois', '王', 'Петров', 'Ἀθηναῖος'];
const EMOJI = ['🦄', '☕', '🚀', '🌱', '🎁', '📚', '🍵', '🐙', '✨', '🔥', '👩‍💻', '🇺🇦'];
const COUNTRIES = ['DE', 'FR', 'ES', 'PL', 'JP', 'NG', 'SE', 'IT', 'US', 'BR', 'IN', 'UA'];
const ADJ = ['Smoky', 'Bright', 'Tiny', 'Grand', 'Velvet', 'Crisp', 'Wild', 'Quiet', 'Golden', 'Misty'];
const NOTES = ['gift wrap please 🎁', 'leave at the door 🚪', 'call before delivery ☎️', 'no plastic 🌱', 'birthday! 🎂', 'ring twice', 'fragile — glass'];
const TIERS = ['bronze', 'silver', 'gold'] as const;
const STATUSES = ['new', 'paid', 'shipped', 'delivered', 'cancelled'] as const;

/** A small deterministic PRNG (mulberry32), so every demo starts from the same shop. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) for a time in ms plus extra microseconds. */
export function datetime6(ms: number, micros: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ') + '.' + String(micros % 1_000_000).padStart(6, '0');
}

export function customerRow(rng: Rng, id: number | null, at: number): unknown[] {
  const first = rng.pick(FIRST);
  const last = rng.pick(LAST);
  const name = `${first} ${last}${rng.chance(0.3) ? ' ' + rng.pick(EMOJI) : ''}`;
  const email = `${first.normalize('NFD').replace(/[^A-Za-z]/g, '').toLowerCase() || 'user'}.${rng.int(1, 999_999)}@example.com`;
  const prefs = rng.chance(0.15)
    ? null
    : JSON.stringify({ newsletter: rng.chance(0.5), lang: rng.pick(['en', 'de', 'fr', 'ja', 'uk']), favourite: rng.pick(EMOJI), score: rng.int(0, 100) / 10 });
  const token = Buffer.alloc(8);
  for (let i = 0; i < 8; i++) token[i] = rng.int(0, 255);
  return [id, email, name, rng.pick(COUNTRIES), rng.pick(TIERS), prefs, token, datetime6(at, rng.int(0, 999_999))];
}

export function productSku(categoryIndex: number, n: number): string {
  const c = CATEGORIES[categoryIndex % CATEGORIES.length] as { prefix: string };
  return `${c.prefix}-${String(n).padStart(5, '0')}`;
}

export function productRow(rng: Rng, sku: string, categoryIndex: number, at: number): unknown[] {
  const c = CATEGORIES[categoryIndex % CATEGORIES.length] as { name: string };
  const name = `${rng.pick(ADJ)} ${c.name} ${rng.int(1, 99)}${rng.chance(0.2) ? ' ' + rng.pick(EMOJI) : ''}`;
  const price = (rng.int(99, 19_999) / 100).toFixed(2);
  const weight = rng.chance(0.1) ? null : rng.int(1, 50_000) / 1000;
  const description = rng.chance(0.2) ? null : `${name}: ${rng.pick(NOTES)}. Ships from ${rng.pick(COUNTRIES)}.`;
  return [sku, name, c.name, price, weight, rng.int(0, 500), description, datetime6(at, rng.int(0, 999_999))];
}

export const CUSTOMER_COLUMNS = 'id, email, name, country, tier, prefs, token, created_at';
export const PRODUCT_COLUMNS = 'sku, name, category, price, weight_kg, stock, description, updated_at';
export const ORDER_COLUMNS = 'id, customer_id, status, total, currency, note, created_at, updated_at';
export const ITEM_COLUMNS = 'order_id, line_no, sku, qty, unit_price';

export interface SeedSizes {
  readonly customers: number;
  readonly productsPerCategory: number;
  readonly orders: number;
}

export const DEFAULT_SEED: SeedSizes = { customers: 5000, productsPerCategory: 250, orders: 10_000 };

export interface SeedResult {
  readonly rows: Record<string, number>;
  readonly total: number;
}

/** Creates the shop's tables in the connection's database and fills them. */
export async function createShop(conn: Connection, sizes: SeedSizes = DEFAULT_SEED, seed = 20240611): Promise<SeedResult> {
  const rng = new Rng(seed);
  for (const ddl of SHOP_DDL) await conn.query(ddl);
  const since = Date.UTC(2024, 0, 1);
  const span = Date.UTC(2025, 0, 1) - since;
  const rows: Record<string, number> = { customers: 0, products: 0, orders: 0, order_items: 0 };

  const insert = async (table: string, columns: string, values: unknown[][]) => {
    if (values.length === 0) return;
    await conn.query(`INSERT INTO ${table} (${columns}) VALUES ?`, [values]);
    rows[table] = (rows[table] ?? 0) + values.length;
  };

  const batch: unknown[][] = [];
  for (let id = 1; id <= sizes.customers; id++) {
    batch.push(customerRow(rng, id, since + rng.int(0, span)));
    if (batch.length === 1000) await insert('customers', CUSTOMER_COLUMNS, batch.splice(0));
  }
  await insert('customers', CUSTOMER_COLUMNS, batch.splice(0));

  const prices = new Map<string, string>();
  for (let ci = 0; ci < CATEGORIES.length; ci++) {
    for (let n = 1; n <= sizes.productsPerCategory; n++) {
      const sku = productSku(ci, n);
      const row = productRow(rng, sku, ci, since + rng.int(0, span));
      prices.set(sku, row[3] as string);
      batch.push(row);
    }
    await insert('products', PRODUCT_COLUMNS, batch.splice(0));
  }
  const skus = [...prices.keys()];

  const items: unknown[][] = [];
  for (let id = 1; id <= sizes.orders; id++) {
    const lines = rng.int(1, 4);
    let total = 0;
    for (let line = 1; line <= lines; line++) {
      const sku = rng.pick(skus);
      const qty = rng.int(1, 5);
      const unit = prices.get(sku) as string;
      total += qty * Math.round(Number(unit) * 100);
      items.push([id, line, sku, qty, unit]);
    }
    const created = since + rng.int(0, span);
    const status = rng.pick(STATUSES);
    batch.push([id, rng.int(1, sizes.customers), status, (total / 100).toFixed(2), 'EUR', rng.chance(0.2) ? rng.pick(NOTES) : null, datetime6(created, rng.int(0, 999_999)), datetime6(created + rng.int(0, 86_400_000), rng.int(0, 999_999))]);
    if (batch.length === 1000) {
      await insert('orders', ORDER_COLUMNS, batch.splice(0));
      await insert('order_items', ITEM_COLUMNS, items.splice(0));
    }
  }
  await insert('orders', ORDER_COLUMNS, batch.splice(0));
  await insert('order_items', ITEM_COLUMNS, items.splice(0));
  return { rows, total: Object.values(rows).reduce((a, b) => a + b, 0) };
}

export { EMOJI, NOTES, TIERS, COUNTRIES };
