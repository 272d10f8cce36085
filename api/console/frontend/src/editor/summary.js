// One line saying what a step does, as services.journeys.canvas.summary writes it, for steps being edited (the
// server's summaries describe the published version only).

const CHANNELS = { email: "Email", sms: "SMS" };

export function duration(body) {
  const parts = [];
  if (body?.days) parts.push(`${body.days} d`);
  if (body?.hours) parts.push(`${body.hours} h`);
  if (body?.minutes) parts.push(`${body.minutes} min`);
  return parts.join(" ");
}

export function summary(kind, body = {}) {
  switch (kind) {
    case "send": {
      const text = `${CHANNELS[body.channel] ?? body.channel} · ${body.template || "no template yet"}`;
      return body.coupon ? `${text} + coupon ${body.coupon}` : text;
    }
    case "send_survey":
      return `${CHANNELS[body.channel ?? "email"] ?? body.channel} · survey ${body.survey || "…"}`;
    case "wait": {
      const waited = duration(body);
      if (!body.until_local_time) return `Wait ${waited || "…"}`;
      return waited ? `Wait ${waited}, then until ${body.until_local_time}` : `Until ${body.until_local_time}`;
    }
    case "wait_for": {
      const waited = duration(body);
      return waited ? `Wait for ${body.event} · ${waited}` : `Wait for ${body.event}`;
    }
    case "branch":
      return body.if ? "If …" : "If (no condition yet)";
    case "grant_points":
      return `+${Number(body.points ?? 0).toLocaleString("en")} points · ${body.reason ?? ""}`;
    case "issue_coupon":
      return `Coupon ${body.template ?? "…"}`;
    case "create_task":
      return `Task for ${body.assignee_role ?? "marketer"}: ${body.title ?? ""}`;
    case "tag":
      return [...(body.add ?? []).map((t) => `+${t}`), ...(body.remove ?? []).map((t) => `−${t}`)].join(" ") || "Tag";
    case "flag":
      if (body.set && body.clear) return `Set ${body.set}, clear ${body.clear}`;
      return body.set ? `Set ${body.set}` : body.clear ? `Clear ${body.clear}` : "Flag";
    case "exit":
      return "Exit";
    default:
      return kind;
  }
}
