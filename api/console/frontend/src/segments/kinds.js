// What a segment condition row can test: the member facts of the segment filter language (docs/segments.md), and
// every custom member field from the catalog as an `attribute` test. Each kind knows its label, its group in the
// picker, and the condition a fresh row starts with (valid where a sensible default exists, so adding a row
// does not at once show a problem; a tier or tag row waits for the marketer's choice).

const MEMBER = "Member";
const PURCHASES = "Purchases";
const RFM = "RFM";
const CUSTOM = "Custom fields";

export const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function daysAgo(days) {
  const day = new Date(Date.now() - days * 86_400_000);
  return day.toISOString().slice(0, 10);
}

export const MEMBER_KINDS = [
  { what: "tier", label: "Tier", group: MEMBER, fresh: () => ({ tier: [] }) },
  { what: "tags", label: "Tags", group: MEMBER, fresh: () => ({ tags: { any: [] } }) },
  { what: "consent", label: "Consent", group: MEMBER, fresh: () => ({ consent: { email: true } }) },
  { what: "signed_up", label: "Signed up between", group: MEMBER, fresh: () => ({ signed_up: { on_or_after: daysAgo(30) } }) },
  { what: "days_since_signup", label: "Days since sign-up", group: MEMBER, fresh: () => ({ days_since_signup: { lte: 30 } }) },
  { what: "birthday_month", label: "Birthday month", group: MEMBER, fresh: () => ({ birthday_month: [new Date().getMonth() + 1] }) },
  { what: "lifetime_spend", label: "Lifetime spend", group: PURCHASES, fresh: () => ({ lifetime_spend: { gte: 100 } }) },
  { what: "order_count", label: "Order count", group: PURCHASES, fresh: () => ({ order_count: { gte: 1 } }) },
  { what: "has_purchased", label: "Has purchased", group: PURCHASES, fresh: () => ({ has_purchased: true }) },
  {
    what: "days_since_last_purchase",
    label: "Days since last purchase",
    group: PURCHASES,
    fresh: () => ({ days_since_last_purchase: { gte: 90 } }),
  },
  { what: "rfm", label: "RFM scores", group: RFM, fresh: () => ({ rfm: { recency: { gte: 4 } } }) },
  { what: "rfm_segment", label: "RFM segment", group: RFM, fresh: () => ({ rfm_segment: [] }) },
];

// The attribute test a fresh row on a custom field starts with: "is set" (always valid for any type).
function attributeKind(field) {
  return {
    what: `attribute:${field.key}`,
    label: field.labels?.en ?? field.key,
    group: CUSTOM,
    field,
    fresh: () => ({ attribute: { key: field.key, exists: true } }),
  };
}

export function kindsOf(catalog) {
  return [...MEMBER_KINDS, ...(catalog?.member_fields ?? []).map(attributeKind)];
}

export const COMBINATIONS = new Set(["all", "any", "not"]);

// The kind a condition object is ("tier", "attribute:city", ...), or null for a combination.
export function whatOf(node) {
  const [key] = Object.keys(node ?? {});
  if (!key || COMBINATIONS.has(key)) return null;
  return key === "attribute" ? `attribute:${node.attribute?.key ?? ""}` : key;
}

export const isLeaf = (node) => node && typeof node === "object" && !Array.isArray(node) && whatOf(node) !== null;

export function groupsOf(kinds) {
  const groups = [];
  for (const kind of kinds) {
    let group = groups.find((g) => g.name === kind.group);
    if (!group) groups.push((group = { name: kind.group, kinds: [] }));
    group.kinds.push(kind);
  }
  return groups;
}
