package store

// Ticket sharing policies (setting ticket_sharing): who a requester may add as a participant,
// in the portal ("Share with") and by putting them in Cc of a mail to an inbox.
const (
	// SharingOff: only agents add participants.
	SharingOff = "off"
	// SharingCompany: colleagues of the requester's primary company (the default).
	SharingCompany = "company"
	// SharingDomains: colleagues, and any address at a domain of ticket_sharing_domains.
	SharingDomains = "domains"
	// SharingAnyone: any address.
	SharingAnyone = "anyone"
)

// ParticipantSettings are the settings of ticket participants (issue 16.1).
type ParticipantSettings struct {
	// TicketSharing is SharingOff, SharingCompany, SharingDomains or SharingAnyone.
	TicketSharing string
	// TicketSharingDomains are the mail domains (lower case) SharingDomains allows besides colleagues.
	TicketSharingDomains []string
	// ParticipantsCanReply lets participants reply, in the portal and by mail; else they read.
	ParticipantsCanReply bool
}

func init() {
	defineSettings(
		EnumSetting("ticket_sharing", "participants", []string{SharingOff, SharingCompany, SharingDomains, SharingAnyone}, SharingCompany,
			func(s *Settings) *string { return &s.TicketSharing }),
		ListSetting("ticket_sharing_domains", "participants", func(s *Settings) *[]string { return &s.TicketSharingDomains }),
		BoolSetting("participants_can_reply", "participants", false, func(s *Settings) *bool { return &s.ParticipantsCanReply }),
	)
}
