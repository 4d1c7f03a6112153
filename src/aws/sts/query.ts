/**
 * The AWS query protocol as STS speaks it: a form-encoded body (`Action=…&Version=2011-06-15&…`) in, an XML
 * document out (`<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…`), errors as
 * `<ErrorResponse><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error><RequestId>…`.
 */
import { StsError } from './errors.ts';

export const STS_XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
export const STS_VERSION = '2011-06-15';
export const XML_CONTENT_TYPE = 'text/xml';

/** The form parameters of a body; a parameter given twice is refused (AWS would take one silently). */
export function parseForm(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) {
    if (out.has(k))
      throw new StsError('ValidationError', `Parameter ${k.slice(0, 64)} is given more than once`);
    out.set(k, v);
  }
  return out;
}

export function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A tree of elements: a string is text, an object holds child elements in order. */
export interface XmlTree {
  readonly [name: string]: string | XmlTree;
}

function elements(tree: XmlTree): string {
  return Object.entries(tree)
    .map(([name, v]) => `<${name}>${typeof v === 'string' ? xmlEscape(v) : elements(v)}</${name}>`)
    .join('');
}

export function resultXml(action: string, result: XmlTree, requestId: string): string {
  return (
    `<${action}Response xmlns="${STS_XMLNS}"><${action}Result>${elements(result)}</${action}Result>` +
    `<ResponseMetadata><RequestId>${xmlEscape(requestId)}</RequestId></ResponseMetadata></${action}Response>\n`
  );
}

export function errorXml(code: string, message: string, status: number, requestId: string): string {
  const type = status >= 500 ? 'Receiver' : 'Sender';
  return (
    `<ErrorResponse xmlns="${STS_XMLNS}"><Error><Type>${type}</Type><Code>${xmlEscape(code)}</Code>` +
    `<Message>${xmlEscape(message)}</Message></Error><RequestId>${xmlEscape(requestId)}</RequestId></ErrorResponse>\n`
  );
}
