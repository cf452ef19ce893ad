// English and French. The chosen language is kept in localStorage.

const en = {
  skip: "Skip to content", language: "Language", dark_theme: "Dark theme",
  nav_dashboard: "Dashboard", nav_locrits: "My Locrits", nav_create: "Create a Locrit", nav_settings: "Settings",
  loading: "Loading…", retry: "Retry", save: "Save", saved: "Saved", cancel: "Cancel", delete: "Delete",
  confirm_delete_locrit: "Delete {name} with all its conversations and memories? This cannot be undone.",
  deleted: "Deleted",
  dash_title: "Dashboard", dash_locrits: "Locrits", dash_active: "Active", dash_messages_today: "Messages today",
  dash_sessions: "Conversations", dash_ollama: "Ollama server", dash_recent: "Recent conversations",
  connected: "connected", disconnected: "unreachable", no_conversations: "No conversation yet.",
  locrits_title: "My Locrits", no_locrits: "No Locrit yet.", create_first: "Create your first Locrit",
  active: "Active", inactive: "Inactive", activate: "Activate", deactivate: "Deactivate",
  chat: "Chat", memory: "Memory", settings: "Settings", no_model: "no model",
  badge_humans: "humans", badge_locrits: "Locrits", badge_invitations: "invitations", badge_internet: "internet",
  badge_platform: "platform",
  create_title: "Create a Locrit", settings_title: "Settings of {name}",
  f_name: "Name", f_description: "Description", f_persona: "Persona (system prompt)",
  f_persona_help: "{name} and {description} are replaced by the Locrit's name and description.",
  persona_preview: "Preview", f_ollama_url: "Ollama server URL",
  f_ollama_url_help: "Leave empty to use the server-wide default.", test_connection: "Test connection",
  testing: "Testing…", connection_ok: "Connected: {count} model(s)", f_model: "Model", pick_model: "Pick a model",
  f_memory_service: "Memory", f_active: "Active (answers messages)",
  open_to_title: "Who may talk to it",
  open_humans: "Humans", open_humans_help: "People using this app or the API can chat with it.",
  open_locrits: "Other Locrits", open_locrits_help: "Other Locrits may send it messages.",
  open_invitations: "Invited guests", open_invitations_help: "People you invite may chat with it.",
  open_internet: "The internet", open_internet_help: "Anyone who reaches this server may chat with it.",
  open_platform: "The platform", open_platform_help: "It is listed on the Locrit platform.",
  access_to_title: "What others may see",
  access_logs: "Logs", access_logs_help: "Its activity logs.",
  access_quick_memory: "Quick memory", access_quick_memory_help: "A short search of its memory (5 results at most).",
  access_full_memory: "Full memory", access_full_memory_help: "Everything it remembers: conversations, memories, concepts. The Memory Explorer needs this.",
  access_llm_info: "Model details", access_llm_info_help: "Which model it runs on.",
  public_title: "Public page", f_public_title: "Title", f_public_description: "Public description",
  f_public_address: "Public address", create: "Create", created: "Created {name}",
  field_error: "{field}: {error}",
  chat_title: "Chat with {name}", sessions: "Conversations", new_conversation: "New conversation",
  message_label: "Your message", send: "Send", stop: "Stop", regenerate: "Regenerate", copy: "Copy",
  copied: "Copied", copy_failed: "Could not copy", you: "You", stopped: "stopped", thinking: "…",
  older: "Load older messages", no_messages: "Say hello to start the conversation.",
  locrit_inactive: "{name} is inactive: activate it in My Locrits to chat.",
  model_down: "The model server cannot be reached. Your message is kept: try again when it is back.",
  memory_title: "Memory of {name}", tab_overview: "Overview", tab_messages: "Messages", tab_sessions: "Sessions",
  tab_memories: "Memories", tab_concepts: "Concepts", total_messages: "Messages", total_sessions: "Sessions",
  total_memories: "Memories", total_concepts: "Concepts", activity: "Messages per day",
  search: "Search", search_label: "Search messages", results: "{count} results", recent_messages: "Recent messages",
  edit: "Edit", open: "Open", confirm: "Are you sure?", add_memory: "Add a memory", content: "Content",
  importance: "Importance", add: "Add", no_memories: "No memory yet.", no_concepts: "No concept yet.",
  full_memory_needed: "The Memory Explorer needs “Full memory” in this Locrit's settings.",
  live: "Live", settings_page_title: "Server settings", default_url: "Default Ollama URL",
  default_model: "Default model", timeout: "Model timeout (seconds)", import_title: "Import an original config.yaml",
  import_file: "config.yaml file", import: "Import", imported: "Imported: {summary}",
  not_found: "Not found", error: "Error",
  filter_role: "Show", all_roles: "All messages", role_user: "From people", role_assistant: "From the Locrit",
  export: "Export", import_locrit: "Import a Locrit", import_locrit_file: "Locrit file (.json)",
};

const fr = {
  skip: "Aller au contenu", language: "Langue", dark_theme: "Thème sombre",
  nav_dashboard: "Tableau de bord", nav_locrits: "Mes Locrits", nav_create: "Créer un Locrit", nav_settings: "Réglages",
  loading: "Chargement…", retry: "Réessayer", save: "Enregistrer", saved: "Enregistré", cancel: "Annuler",
  delete: "Supprimer",
  confirm_delete_locrit: "Supprimer {name} avec toutes ses conversations et mémoires ? C'est définitif.",
  deleted: "Supprimé",
  dash_title: "Tableau de bord", dash_locrits: "Locrits", dash_active: "Actifs", dash_messages_today: "Messages du jour",
  dash_sessions: "Conversations", dash_ollama: "Serveur Ollama", dash_recent: "Conversations récentes",
  connected: "connecté", disconnected: "injoignable", no_conversations: "Aucune conversation.",
  locrits_title: "Mes Locrits", no_locrits: "Aucun Locrit.", create_first: "Créer votre premier Locrit",
  active: "Actif", inactive: "Inactif", activate: "Activer", deactivate: "Désactiver",
  chat: "Discuter", memory: "Mémoire", settings: "Réglages", no_model: "aucun modèle",
  badge_humans: "humains", badge_locrits: "Locrits", badge_invitations: "invitations", badge_internet: "internet",
  badge_platform: "plateforme",
  create_title: "Créer un Locrit", settings_title: "Réglages de {name}",
  f_name: "Nom", f_description: "Description", f_persona: "Personnalité (prompt système)",
  f_persona_help: "{name} et {description} sont remplacés par le nom et la description du Locrit.",
  persona_preview: "Aperçu", f_ollama_url: "URL du serveur Ollama",
  f_ollama_url_help: "Vide : le serveur par défaut.", test_connection: "Tester la connexion",
  testing: "Test…", connection_ok: "Connecté : {count} modèle(s)", f_model: "Modèle", pick_model: "Choisir un modèle",
  f_memory_service: "Mémoire", f_active: "Actif (répond aux messages)",
  open_to_title: "Qui peut lui parler",
  open_humans: "Humains", open_humans_help: "Les personnes utilisant cette app ou l'API peuvent discuter avec lui.",
  open_locrits: "Autres Locrits", open_locrits_help: "D'autres Locrits peuvent lui écrire.",
  open_invitations: "Invités", open_invitations_help: "Les personnes invitées peuvent discuter avec lui.",
  open_internet: "Internet", open_internet_help: "Toute personne atteignant ce serveur peut discuter avec lui.",
  open_platform: "La plateforme", open_platform_help: "Il est listé sur la plateforme Locrit.",
  access_to_title: "Ce que les autres peuvent voir",
  access_logs: "Journaux", access_logs_help: "Ses journaux d'activité.",
  access_quick_memory: "Mémoire rapide", access_quick_memory_help: "Une courte recherche dans sa mémoire (5 résultats au plus).",
  access_full_memory: "Mémoire complète", access_full_memory_help: "Tout ce dont il se souvient. L'explorateur de mémoire en a besoin.",
  access_llm_info: "Détails du modèle", access_llm_info_help: "Le modèle qu'il utilise.",
  public_title: "Page publique", f_public_title: "Titre", f_public_description: "Description publique",
  f_public_address: "Adresse publique", create: "Créer", created: "{name} créé",
  field_error: "{field} : {error}",
  chat_title: "Discussion avec {name}", sessions: "Conversations", new_conversation: "Nouvelle conversation",
  message_label: "Votre message", send: "Envoyer", stop: "Arrêter", regenerate: "Régénérer", copy: "Copier",
  copied: "Copié", copy_failed: "Copie impossible", you: "Vous", stopped: "arrêté", thinking: "…",
  older: "Messages plus anciens", no_messages: "Dites bonjour pour commencer.",
  locrit_inactive: "{name} est inactif : activez-le dans Mes Locrits pour discuter.",
  model_down: "Le serveur du modèle est injoignable. Votre message est conservé : réessayez plus tard.",
  memory_title: "Mémoire de {name}", tab_overview: "Vue d'ensemble", tab_messages: "Messages", tab_sessions: "Sessions",
  tab_memories: "Souvenirs", tab_concepts: "Concepts", total_messages: "Messages", total_sessions: "Sessions",
  total_memories: "Souvenirs", total_concepts: "Concepts", activity: "Messages par jour",
  search: "Rechercher", search_label: "Rechercher dans les messages", results: "{count} résultats",
  recent_messages: "Messages récents", edit: "Modifier", open: "Ouvrir", confirm: "Êtes-vous sûr ?",
  add_memory: "Ajouter un souvenir", content: "Contenu", importance: "Importance", add: "Ajouter",
  no_memories: "Aucun souvenir.", no_concepts: "Aucun concept.",
  full_memory_needed: "L'explorateur de mémoire nécessite « Mémoire complète » dans les réglages du Locrit.",
  live: "En direct", settings_page_title: "Réglages du serveur", default_url: "URL Ollama par défaut",
  default_model: "Modèle par défaut", timeout: "Délai du modèle (secondes)", import_title: "Importer un config.yaml d'origine",
  import_file: "Fichier config.yaml", import: "Importer", imported: "Importé : {summary}",
  not_found: "Introuvable", error: "Erreur",
  filter_role: "Afficher", all_roles: "Tous les messages", role_user: "Des personnes", role_assistant: "Du Locrit",
  export: "Exporter", import_locrit: "Importer un Locrit", import_locrit_file: "Fichier du Locrit (.json)",
};

const dictionaries = { en, fr };

export function lang() {
  const saved = localStorage.getItem("locrit.lang");
  if (saved in dictionaries) return saved;
  return navigator.language?.startsWith("fr") ? "fr" : "en";
}

export function setLang(code) {
  localStorage.setItem("locrit.lang", code);
  document.documentElement.lang = code;
}

/** The text of `key` in the current language, with `{var}`s filled in. */
export function t(key, vars = {}) {
  const text = dictionaries[lang()][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}
