// zh-CN and English. The language is the user's choice (kept in localStorage), else the tenant's locale.
const STRINGS = {
  "zh-CN": {
    app: "工单控制台", signin: "登录", signout: "退出", signin_as: "以此身份登录", tenant: "租户", user: "用户",
    roles: "角色", language: "English", loading: "加载中…", retry: "重试", save: "保存", submit: "提交",
    cancel: "取消", create: "新建", back: "返回", none: "无", all: "全部", refresh: "刷新", more: "更多",
    my_tickets: "我的工单", tickets: "工单", new_ticket: "新建工单", failed: "失败工单", deliveries: "推送记录",
    finance: "财务", statements: "结算单", workflows: "流程", earnings: "本月收入",
    type: "类型", node: "节点", status: "状态", assignee: "处理人", sla: "时效", priority: "优先级",
    created: "创建", updated: "更新", fields: "字段", history: "历史", actions: "操作", accept: "接单",
    accepted: "已接单", offer_expires: "接单截止", dispatch: "派单", candidates: "候选技师",
    rank: "排名", score: "总分", reassign: "改派", assign_to: "指派给", explanation: "派单说明",
    open: "处理中", closed: "已完成", cancelled: "已取消", failed_status: "失败", ready: "待处理",
    waiting: "系统处理中", required: "必填", add_line: "添加一行", quantity: "数量", locate: "获取定位",
    photos_hint: "选择照片", total: "合计", period: "账期", download_csv: "下载 CSV", heat_map: "收益热力图",
    by_item: "按项目", by_channel: "按渠道", by_tier_region: "按等级 × 区域", installer: "安装师傅",
    replay: "重放", reason: "原因", received: "收到", channel: "渠道", technician: "技师", amount: "金额",
    no_items: "暂无数据", forbidden: "当前角色无权查看", saved: "已保存", done: "完成", open_tickets: "在途工单",
    level_yellow: "黄", level_orange: "橙", level_red: "红", deadline: "截止",
  },
  en: {
    app: "Work-order console", signin: "Sign in", signout: "Sign out", signin_as: "Sign in as", tenant: "Tenant",
    user: "User", roles: "Roles", language: "中文", loading: "Loading…", retry: "Retry", save: "Save",
    submit: "Submit", cancel: "Cancel", create: "Create", back: "Back", none: "None", all: "All",
    refresh: "Refresh", more: "More", my_tickets: "My tickets", tickets: "Tickets", new_ticket: "New ticket",
    failed: "Failed tickets", deliveries: "Deliveries", finance: "Finance", statements: "Statements",
    workflows: "Workflows", earnings: "Earnings this month", type: "Type", node: "Node", status: "Status",
    assignee: "Assignee", sla: "SLA", priority: "Priority", created: "Created", updated: "Updated",
    fields: "Fields", history: "History", actions: "Actions", accept: "Accept", accepted: "Accepted",
    offer_expires: "Accept by", dispatch: "Dispatch", candidates: "Candidates", rank: "Rank", score: "Score",
    reassign: "Reassign", assign_to: "Assign to", explanation: "Dispatch explanation", open: "Open",
    closed: "Closed", cancelled: "Cancelled", failed_status: "Failed", ready: "Waiting for you",
    waiting: "In progress", required: "required", add_line: "Add a line", quantity: "Qty", locate: "Use my location",
    photos_hint: "Choose photos", total: "Total", period: "Period", download_csv: "Download CSV",
    heat_map: "Revenue heat map", by_item: "By item", by_channel: "By channel", by_tier_region: "Tier × region",
    installer: "Installer", replay: "Replay", reason: "Reason", received: "Received", channel: "Channel",
    technician: "Technician", amount: "Amount", no_items: "Nothing here", forbidden: "Your role cannot see this",
    saved: "Saved", done: "Done", open_tickets: "Open tickets", level_yellow: "yellow", level_orange: "orange",
    level_red: "red", deadline: "Due",
  },
};

let lang = localStorage.getItem("scrm.lang") || "zh-CN";

/** A view's own strings, added at its module's top: extend({"zh-CN": {key: "…"}, en: {key: "…"}}). */
export function extend(strings) {
  for (const [language, entries] of Object.entries(strings)) Object.assign(STRINGS[language], entries);
}

export function setDefaultLang(locale) {
  if (!localStorage.getItem("scrm.lang") && STRINGS[locale]) lang = locale;
  document.documentElement.lang = lang;
}

export function toggleLang() {
  lang = lang === "zh-CN" ? "en" : "zh-CN";
  localStorage.setItem("scrm.lang", lang);
  document.documentElement.lang = lang;
}

export function currentLang() {
  return lang;
}

/** The text of `key` in the current language (the key itself when it has none). */
export function t(key) {
  return (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.en[key] || key;
}

/** A date-time from the API (ISO 8601) in the tenant's time zone. */
export function when(iso, timezone) {
  if (!iso) return "";
  const at = new Date(iso);
  return at.toLocaleString(lang, { timeZone: timezone, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}
