// labels.js — the French words of the document model (SPEC §2) and how figures are written.

export const STATUS = {
  preparation: 'En préparation',
  diagnostic: 'Diagnostic',
  action_plan: 'Plan d’actions',
  monitoring: 'Suivi',
  evaluation: 'Évaluation',
  closed: 'Clôturée',
};

export const ACTION_STATUS = {
  planned: 'Prévue',
  in_progress: 'En cours',
  done: 'Réalisée',
  abandoned: 'Abandonnée',
};

export const TERRITORY_KIND = {
  commune: 'Commune',
  epci: 'Intercommunalité (EPCI)',
  departement: 'Département',
  autre: 'Autre',
};

export const SIGNATORY_ROLE = {
  caf: 'Caf',
  departement: 'Conseil départemental',
  epci: 'Intercommunalité',
  commune: 'Commune',
  msa: 'MSA',
  etat: 'État',
  autre: 'Autre',
};

export const CHANGE_TYPE = { created: 'Création', updated: 'Modification', deleted: 'Suppression' };

export const AMENDMENT_KIND = { extension: 'Prolongation', modification: 'Modification' };

const dateFormat = new Intl.DateTimeFormat('fr-FR', { dateStyle: 'long', timeZone: 'UTC' });
const dateTimeFormat = new Intl.DateTimeFormat('fr-FR', { dateStyle: 'short', timeStyle: 'short' });
const numberFormat = new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 2 });
const euroFormat = new Intl.NumberFormat('fr-FR', { style: 'currency', currency: 'EUR',
  maximumFractionDigits: 0 });

// "2020-02-11" → "11 février 2020"; anything else is shown as it is.
export function formatDate(value) {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return value ?? '';
  return dateFormat.format(new Date(`${value}T00:00:00Z`));
}

export function formatDateTime(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? (value ?? '') : dateTimeFormat.format(date);
}

export function formatPeriod(period) {
  if (!period) return '';
  return `du ${formatDate(period.start)} au ${formatDate(period.end)}`;
}

export function formatNumber(value, unit) {
  if (typeof value !== 'number') return 'non calculable';
  const figure = numberFormat.format(value);
  if (!unit) return figure;
  return unit === '€' ? euroFormat.format(value) : `${figure} ${unit}`;
}

export function formatEuros(value) {
  return typeof value === 'number' ? euroFormat.format(value) : '';
}

export function statusLabel(status) {
  return STATUS[status] || status || '';
}

export function actionStatusLabel(status) {
  return ACTION_STATUS[status] || 'Statut non renseigné';
}
