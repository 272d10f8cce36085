// The live count ("N members") and the newest matching members, linked to their 360 view; while a count is on
// its way the panel says it is updating, and an invalid filter shows that its problems are on the rows.
const money = (text) => Number(text).toLocaleString("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function Preview({ state }) {
  const { updating, result, error } = state;
  const problems = error?.code === "invalid_segment" || error?.code === "validation_error";
  return (
    <section className="mf-panel mf-preview" aria-labelledby="preview-title" aria-busy={updating} data-updating={updating}>
      <h2 id="preview-title">Members now</h2>
      <p className="mf-preview__count" data-preview-count role="status" aria-live="polite">
        {error ? (
          <span className="mf-preview__error">{problems ? "Fix the problems marked on the conditions to see the count." : error.message}</span>
        ) : result ? (
          <>
            <b>{result.count.toLocaleString("en")}</b> {result.count === 1 ? "member" : "members"}
          </>
        ) : (
          <span className="mf-muted">counting…</span>
        )}
      </p>
      <p className="mf-preview__updating mf-muted" hidden={!updating}>
        updating…
      </p>
      {result && !error && result.sample.length > 0 && (
        <table className="mf-sample">
          <caption className="mf-muted">newest {result.sample.length} of them</caption>
          <thead>
            <tr>
              <th>Member</th>
              <th>Tier</th>
              <th className="num">Lifetime spend</th>
            </tr>
          </thead>
          <tbody>
            {result.sample.map((member) => (
              <tr key={member.id} data-member={member.id}>
                <td>
                  <a href={member.url}>{member.name || member.external_id}</a>
                </td>
                <td>{member.tier}</td>
                <td className="num">{money(member.lifetime_spend)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
