package store

// TicketSettings are the ticket-experience settings: attachments, ticket actions and threads.
type TicketSettings struct {
	// AttachmentMaxFileBytes is the largest single attachment, in bytes (default 25 MB).
	AttachmentMaxFileBytes int64
	// AttachmentMaxMessageBytes is the most all attachments of one message may weigh (default 50 MB).
	AttachmentMaxMessageBytes int64
	// AttachmentMaxFiles is the most files one message may carry (default 10).
	AttachmentMaxFiles int64
	// AllowCloseFromPortal shows the "Close ticket" button to customers.
	AllowCloseFromPortal bool
	// ReopenOnReply moves a closed ticket to its pipeline's first open stage when the customer replies.
	ReopenOnReply bool
	// ShowAllThreads shows every public conversation of a ticket, not only the oldest.
	ShowAllThreads bool
	// TicketFilters are the admin's rules; only matching tickets ever reach a customer.
	TicketFilters []FilterRule
}

// MB is one megabyte (10^6 bytes), the unit customers see for attachment limits.
const MB = 1000 * 1000

func init() {
	defineSettings(
		IntSetting("attachment_max_file_bytes", "attachments", 1, 100*MB, 25*MB,
			func(s *Settings) *int64 { return &s.AttachmentMaxFileBytes }),
		IntSetting("attachment_max_message_bytes", "attachments", 1, 100*MB, 50*MB,
			func(s *Settings) *int64 { return &s.AttachmentMaxMessageBytes }),
		IntSetting("attachment_max_files", "attachments", 0, 50, 10,
			func(s *Settings) *int64 { return &s.AttachmentMaxFiles }),
		BoolSetting("allow_close_from_portal", "tickets", true, func(s *Settings) *bool { return &s.AllowCloseFromPortal }),
		BoolSetting("reopen_on_reply", "tickets", false, func(s *Settings) *bool { return &s.ReopenOnReply }),
		BoolSetting("show_all_threads", "tickets", false, func(s *Settings) *bool { return &s.ShowAllThreads }),
		ticketFiltersDef(),
	)
}
