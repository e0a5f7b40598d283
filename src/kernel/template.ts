/** Fills `{name}` placeholders from `vars`; unknown names are left as they are (owners see their typo). */
export function renderTemplate(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{([a-zA-Z]+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole))
}
