// The built-in template library's content (GET /v1/templates): data, kept apart from the code that serves it.
import type { ChatMessage, ModelParams } from '@promptmill/workflows';
import type { VariableSpec } from '@promptmill/workflows/template';

export const TEMPLATE_CATEGORIES = [
  'writing',
  'language',
  'analysis',
  'extraction',
  'support',
  'engineering',
] as const;
export type TemplateCategory = (typeof TEMPLATE_CATEGORIES)[number];

export interface LibraryTemplate {
  id: string;
  name: string;
  description: string;
  category: TemplateCategory;
  messages: ChatMessage[];
  variables: VariableSpec[];
  suggestedModel: string;
  params: ModelParams;
  /** Values that render the template into a sensible prompt: a starting point for /render. */
  example: Record<string, unknown>;
}

const SUGGESTED_MODEL = 'gpt-4o-mini';

/**
 * The built-in library. Each template delimits user input with triple quotes, states what to do
 * when the input does not allow an answer, and says exactly what the reply must contain, so the
 * output can be used by a program without post-processing.
 */
export const TEMPLATE_LIBRARY: readonly LibraryTemplate[] = [
  {
    id: 'tpl_summarize',
    name: 'Summarize',
    description: 'A faithful summary of any text, for a chosen audience and format, with an optional focus.',
    category: 'writing',
    messages: [
      {
        role: 'system',
        content:
          'You are a careful editor who writes faithful summaries. You never add facts, opinions or advice that are not in the source text.',
      },
      {
        role: 'user',
        content: `Summarize the text below for {{audience|a general reader}} as {{format|3 to 5 concise bullet points}}.{{#if focus}}
Focus on: {{focus}}.{{/if}}

Rules:
- Use only information stated in the text.
- Keep names, numbers and dates exactly as written.
- Write in the language of the text.
- If the text is too short or empty to summarize, reply "Nothing to summarize."

Text:
"""
{{text}}
"""`,
      },
    ],
    variables: [
      {
        name: 'audience',
        required: false,
        description: 'Who will read the summary (default: a general reader)',
      },
      {
        name: 'format',
        required: false,
        description: 'Shape of the summary, e.g. "one paragraph" or "a tweet"',
      },
      {
        name: 'focus',
        required: false,
        description: 'An aspect to concentrate on, e.g. "risks and deadlines"',
      },
      { name: 'text', required: true, description: 'The text to summarize' },
    ],
    suggestedModel: SUGGESTED_MODEL,
    params: { temperature: 0.3, maxTokens: 600 },
    example: {
      audience: 'busy executives',
      focus: 'decisions and owners',
      text: 'Minutes of the 12 March planning meeting: the team agreed to ship the billing revamp on 2 April. Dana owns the migration script; Lee will update the help centre. The mobile release slips one week because of the App Store review.',
    },
  },
  {
    id: 'tpl_translate',
    name: 'Translate',
    description:
      'Idiomatic translation that keeps formatting, placeholders and code intact, with an optional glossary of fixed terms.',
    category: 'language',
    messages: [
      {
        role: 'system',
        content:
          'You are a professional translator. You translate faithfully and idiomatically and reply with the translation only: no notes, no quotes, no explanations.',
      },
      {
        role: 'user',
        content: `Translate the text below {{#if source_language}}from {{source_language}} {{/if}}into {{target_language}}, in {{register|the same register as the original}}.
Keep line breaks, lists, Markdown and placeholders such as {name}, %s or :id exactly as they are. Do not translate code, URLs, e-mail addresses or product names.
{{#if glossary}}
Always translate these terms as given:
{{#each glossary}}- {{this.term}} → {{this.translation}}
{{/each}}{{/if}}
Text:
"""
{{text}}
"""`,
      },
    ],
    variables: [
      {
        name: 'source_language',
        required: false,
        description: 'Language of the text (detected when omitted)',
      },
      { name: 'target_language', required: true, description: 'Language to translate into, e.g. "French"' },
      { name: 'register', required: false, description: 'e.g. "formal (vous)" or "casual"' },
      {
        name: 'glossary',
        required: false,
        description: 'A list of {term, translation} pairs to apply verbatim',
      },
      { name: 'text', required: true, description: 'The text to translate' },
    ],
    suggestedModel: SUGGESTED_MODEL,
    params: { temperature: 0.2 },
    example: {
      target_language: 'French',
      register: 'formal (vous)',
      glossary: [{ term: 'workspace', translation: 'espace de travail' }],
      text: 'Hi {name}, your workspace is ready. Open https://app.example.com to invite your team.',
    },
  },
  {
    id: 'tpl_classify',
    name: 'Classify',
    description:
      'Assigns exactly one category from a list you give, and replies with the category name only.',
    category: 'analysis',
    messages: [
      {
        role: 'system',
        content:
          'You are a precise text classifier. You reply with one category name from the allowed list, spelled exactly as listed, and nothing else.',
      },
      {
        role: 'user',
        content: `Classify the text into exactly one of these categories:
{{#each categories}}- {{this}}
{{/each}}{{#if guidance}}
Guidance: {{guidance}}
{{/if}}
If no category fits, reply "{{fallback|other}}".

Text:
"""
{{text}}
"""`,
      },
    ],
    variables: [
      { name: 'categories', required: true, description: 'The allowed categories (a list of strings)' },
      { name: 'guidance', required: false, description: 'How to decide between close categories' },
      { name: 'fallback', required: false, description: 'Reply when nothing fits (default: other)' },
      { name: 'text', required: true, description: 'The text to classify' },
    ],
    suggestedModel: SUGGESTED_MODEL,
    params: { temperature: 0, maxTokens: 20 },
    example: {
      categories: ['billing', 'bug report', 'feature request', 'account access'],
      guidance: 'Anything about invoices, refunds or charges is billing.',
      text: 'I was charged twice for March, can you refund one of the payments?',
    },
  },
  {
    id: 'tpl_extract_json',
    name: 'Extract JSON',
    description:
      'Pulls the fields you describe out of free text and returns one JSON object, with null for anything the text does not state.',
    category: 'extraction',
    messages: [
      {
        role: 'system',
        content:
          'You extract structured data from text. You reply with a single valid JSON object: no Markdown fences, no comments, no text before or after it.',
      },
      {
        role: 'user',
        content: `Extract these fields from the text and return them as one JSON object.

Fields (JSON Schema or a list of names with descriptions):
{{schema}}

Rules:
- Use null for a field the text does not state. Never guess.
- Copy names and identifiers verbatim; write dates as YYYY-MM-DD and amounts as numbers.
- Output JSON only.{{#if example}}

Example of the expected output:
{{example}}{{/if}}

Text:
"""
{{text}}
"""`,
      },
    ],
    variables: [
      {
        name: 'schema',
        required: true,
        description: 'The fields to extract: a JSON Schema (object or string) or a plain list',
      },
      { name: 'example', required: false, description: 'An example output object' },
      { name: 'text', required: true, description: 'The text to extract from' },
    ],
    suggestedModel: SUGGESTED_MODEL,
    params: { temperature: 0 },
    example: {
      schema: {
        type: 'object',
        properties: {
          invoice_number: { type: 'string' },
          issued_on: { type: 'string', format: 'date' },
          total: { type: 'number' },
          currency: { type: 'string' },
        },
      },
      text: 'Invoice INV-2041 issued 3 Feb 2025 by Acme GmbH. Total due: 1,250.00 EUR within 30 days.',
    },
  },
  {
    id: 'tpl_rewrite_tone',
    name: 'Rewrite in another tone',
    description: 'Rewrites a text in the tone you ask for while keeping every fact, number and commitment.',
    category: 'writing',
    messages: [
      {
        role: 'system',
        content:
          'You are an editor who rewrites text in a requested tone. You keep the meaning, the facts and the intent, and you reply with the rewritten text only.',
      },
      {
        role: 'user',
        content: `Rewrite the text below in a {{tone}} tone{{#if audience}} for {{audience}}{{/if}}.
- Keep every fact, name, number, date and commitment.
- Keep roughly the same length{{#if max_words}}, and use at most {{max_words}} words{{/if}}.
- Do not add greetings or sign-offs that are not in the original.

Text:
"""
{{text}}
"""`,
      },
    ],
    variables: [
      { name: 'tone', required: true, description: 'e.g. "friendly", "formal", "concise and direct"' },
      { name: 'audience', required: false, description: 'Who will read it' },
      { name: 'max_words', required: false, description: 'An upper bound on length' },
      { name: 'text', required: true, description: 'The text to rewrite' },
    ],
    suggestedModel: SUGGESTED_MODEL,
    params: { temperature: 0.7 },
    example: {
      tone: 'warm but professional',
      audience: 'a customer whose order is late',
      text: 'Your order is delayed. It will ship Monday. Nothing we can do.',
    },
  },
  {
    id: 'tpl_answer_with_context',
    name: 'Answer from documents',
    description:
      'Retrieval-augmented answering: answers only from the documents you pass, cites them as [n], and says so when they do not contain the answer.',
    category: 'support',
    messages: [
      {
        role: 'system',
        content: `You answer questions for {{company|our company}} using only the numbered documents provided by the user.
- Cite the documents you use as [n] after the sentence that relies on them.
- If the documents do not contain the answer, reply: "I don't know based on the available documents." Do not use outside knowledge.
- Answer in the language of the question, in at most {{max_sentences|5}} sentences.`,
      },
      {
        role: 'user',
        content: `Documents:
{{#each documents}}[{{@index}}] {{this.title}}
{{this.content}}

{{/each}}Question: {{question}}`,
      },
    ],
    variables: [
      { name: 'company', required: false, description: 'Whose assistant this is' },
      { name: 'max_sentences', required: false, description: 'Upper bound on answer length (default 5)' },
      { name: 'documents', required: true, description: 'A list of {title, content} passages' },
      { name: 'question', required: true, description: 'The user question' },
    ],
    suggestedModel: SUGGESTED_MODEL,
    params: { temperature: 0.1, maxTokens: 500 },
    example: {
      company: 'Acme Cloud',
      documents: [
        { title: 'Backups', content: 'Databases are backed up every 6 hours and kept for 14 days.' },
        { title: 'Restores', content: 'Restores are started from the console under Database > Backups.' },
      ],
      question: 'How long are backups kept?',
    },
  },
  {
    id: 'tpl_support_reply',
    name: 'Customer support reply',
    description:
      'Drafts a helpful, empathetic reply to a customer message, following the policy you provide.',
    category: 'support',
    messages: [
      {
        role: 'system',
        content: `You are {{agent_name|a support agent}} at {{company}}. You write clear, kind and specific replies.
- Acknowledge the customer's problem in one sentence, then give concrete next steps.
- Never promise refunds, dates or features that the policy below does not allow.
- If you need information from the customer, ask for all of it in one list.{{#if policy}}

Policy:
{{policy}}{{/if}}`,
      },
      {
        role: 'user',
        content: `Customer: {{customer_name|the customer}}
Message:
"""
{{message}}
"""

Write the reply.`,
      },
    ],
    variables: [
      { name: 'agent_name', required: false, description: 'Name or role used in the reply' },
      { name: 'company', required: true, description: 'Company name' },
      { name: 'policy', required: false, description: 'Rules the reply must follow (refunds, SLAs…)' },
      { name: 'customer_name', required: false, description: 'How to address the customer' },
      { name: 'message', required: true, description: "The customer's message" },
    ],
    suggestedModel: SUGGESTED_MODEL,
    params: { temperature: 0.5, maxTokens: 500 },
    example: {
      company: 'Acme Cloud',
      agent_name: 'Sam from Acme support',
      policy: 'Refunds within 14 days of purchase. Outage credits are 10% of the monthly fee.',
      customer_name: 'Priya',
      message:
        'Your service was down for three hours yesterday and we lost sales. What are you going to do about it?',
    },
  },
  {
    id: 'tpl_code_review',
    name: 'Code review',
    description:
      'Reviews a code change for bugs, security issues and readability, and reports findings by severity.',
    category: 'engineering',
    messages: [
      {
        role: 'system',
        content:
          'You are a senior {{language}} engineer doing a code review. You report real problems with evidence from the code and skip style nits a formatter would fix.',
      },
      {
        role: 'user',
        content: `Review this {{language}} code{{#if context}} ({{context}}){{/if}}.

Report findings as a list, most severe first, each as: [severity: blocker|major|minor] file or line — problem — suggested fix.
Look for: correctness bugs, unhandled errors, security issues (injection, secrets, unsafe input), concurrency problems, and unclear names.{{#if focus}}
Pay particular attention to: {{focus}}.{{/if}}
If you find nothing worth changing, reply "No findings."

\`\`\`
{{code}}
\`\`\``,
      },
    ],
    variables: [
      { name: 'language', required: true, description: 'Programming language, e.g. TypeScript' },
      { name: 'context', required: false, description: 'What the code does or what changed' },
      { name: 'focus', required: false, description: 'Areas of concern' },
      { name: 'code', required: true, description: 'The code or diff to review' },
    ],
    suggestedModel: SUGGESTED_MODEL,
    params: { temperature: 0.2 },
    example: {
      language: 'TypeScript',
      context: 'an Express handler that looks up a user',
      code: [
        "app.get('/users/:id', async (req, res) => {",
        "  const rows = await db.query('SELECT * FROM users WHERE id = ' + req.params.id);",
        '  res.json(rows[0]);',
        '});',
      ].join('\n'),
    },
  },
];
