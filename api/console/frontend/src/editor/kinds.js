// How each step kind looks: its label and icon (the colours are in canvas.css, .mf-node--<kind>).
export const KIND_LABELS = {
  send: "Send",
  send_survey: "Survey",
  wait: "Wait",
  wait_for: "Wait for",
  branch: "Branch",
  grant_points: "Points",
  issue_coupon: "Coupon",
  create_task: "Task",
  tag: "Tag",
  flag: "Flag",
  exit: "Exit",
};
export const KIND_ICONS = {
  send: "✉",
  send_survey: "☺",
  wait: "◔",
  wait_for: "◎",
  branch: "◇",
  grant_points: "★",
  issue_coupon: "%",
  create_task: "✔",
  tag: "#",
  flag: "⚑",
  exit: "■",
};
