// strftime_now(format) as transformers gives it to chat templates: Python's datetime.now().strftime(format) in
// the C locale (English names, whatever the process locale), local time. SmolLM3's and Llama 3.1's templates
// print the day with it. Python hands the format to the C library: glibc's directives below, its "-" flag (no
// padding), and an unknown directive left as written.
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

function dayOfYear(d: Date): number {
  return (
    Math.round((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(d.getFullYear(), 0, 1)) / 864e5) + 1
  );
}

/** Each directive: its value, and the padding glibc gives it ('0' digits, ' ' space, '' none) to a width. */
function directive(d: Date, letter: string): [string, string, number] | undefined {
  const hour12 = d.getHours() % 12 === 0 ? 12 : d.getHours() % 12;
  switch (letter) {
    case 'a':
      return [DAYS[d.getDay()]!.slice(0, 3), '', 0];
    case 'A':
      return [DAYS[d.getDay()]!, '', 0];
    case 'b':
    case 'h':
      return [MONTHS[d.getMonth()]!.slice(0, 3), '', 0];
    case 'B':
      return [MONTHS[d.getMonth()]!, '', 0];
    case 'd':
      return [String(d.getDate()), '0', 2];
    case 'e':
      return [String(d.getDate()), ' ', 2];
    case 'H':
      return [String(d.getHours()), '0', 2];
    case 'I':
      return [String(hour12), '0', 2];
    case 'j':
      return [String(dayOfYear(d)), '0', 3];
    case 'm':
      return [String(d.getMonth() + 1), '0', 2];
    case 'M':
      return [String(d.getMinutes()), '0', 2];
    case 'p':
      return [d.getHours() < 12 ? 'AM' : 'PM', '', 0];
    case 'S':
      return [String(d.getSeconds()), '0', 2];
    case 'y':
      return [String(d.getFullYear() % 100), '0', 2];
    case 'Y':
      return [String(d.getFullYear()), '', 0];
    case '%':
      return ['%', '', 0];
    default:
      return undefined;
  }
}

/** `format` as Python's strftime writes `date` in the C locale. */
export function strftime(date: Date, format: string): string {
  return format.replace(/%(-?)([a-zA-Z%])/g, (whole, noPad: string, letter: string) => {
    const found = directive(date, letter);
    if (!found) return whole;
    const [value, pad, width] = found;
    return noPad || !pad ? value : value.padStart(width, pad);
  });
}

/** The template global: Python's datetime.now().strftime(format). */
export const strftimeNow = (format: string): string => strftime(new Date(), format);
