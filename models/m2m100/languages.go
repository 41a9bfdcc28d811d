package m2m100

import (
	"fmt"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine"
)

// language is one of M2M100's 100 languages: its code (the token is
// __code__, numbered in this order after vocab.json) and English names.
type language struct {
	code  string
	names []string
}

// languages is transformers' FAIRSEQ_LANGUAGE_CODES["m2m100"] in id order,
// with the English names of the facebook/m2m100 model cards (ISO 639
// names; alternative names after the first).
var languages = []language{
	{"af", []string{"afrikaans"}}, {"am", []string{"amharic"}}, {"ar", []string{"arabic"}},
	{"ast", []string{"asturian"}}, {"az", []string{"azerbaijani"}}, {"ba", []string{"bashkir"}},
	{"be", []string{"belarusian"}}, {"bg", []string{"bulgarian"}}, {"bn", []string{"bengali"}},
	{"br", []string{"breton"}}, {"bs", []string{"bosnian"}}, {"ca", []string{"catalan", "valencian"}},
	{"ceb", []string{"cebuano"}}, {"cs", []string{"czech"}}, {"cy", []string{"welsh"}},
	{"da", []string{"danish"}}, {"de", []string{"german"}}, {"el", []string{"greek"}},
	{"en", []string{"english"}}, {"es", []string{"spanish", "castilian"}}, {"et", []string{"estonian"}},
	{"fa", []string{"persian", "farsi"}}, {"ff", []string{"fulah", "fula"}}, {"fi", []string{"finnish"}},
	{"fr", []string{"french"}}, {"fy", []string{"western frisian", "frisian"}}, {"ga", []string{"irish"}},
	{"gd", []string{"scottish gaelic", "gaelic"}}, {"gl", []string{"galician"}}, {"gu", []string{"gujarati"}},
	{"ha", []string{"hausa"}}, {"he", []string{"hebrew"}}, {"hi", []string{"hindi"}},
	{"hr", []string{"croatian"}}, {"ht", []string{"haitian creole", "haitian"}}, {"hu", []string{"hungarian"}},
	{"hy", []string{"armenian"}}, {"id", []string{"indonesian"}}, {"ig", []string{"igbo"}},
	{"ilo", []string{"iloko", "ilocano"}}, {"is", []string{"icelandic"}}, {"it", []string{"italian"}},
	{"ja", []string{"japanese"}}, {"jv", []string{"javanese"}}, {"ka", []string{"georgian"}},
	{"kk", []string{"kazakh"}}, {"km", []string{"khmer", "central khmer"}}, {"kn", []string{"kannada"}},
	{"ko", []string{"korean"}}, {"lb", []string{"luxembourgish", "letzeburgesch"}}, {"lg", []string{"ganda", "luganda"}},
	{"ln", []string{"lingala"}}, {"lo", []string{"lao"}}, {"lt", []string{"lithuanian"}},
	{"lv", []string{"latvian"}}, {"mg", []string{"malagasy"}}, {"mk", []string{"macedonian"}},
	{"ml", []string{"malayalam"}}, {"mn", []string{"mongolian"}}, {"mr", []string{"marathi"}},
	{"ms", []string{"malay"}}, {"my", []string{"burmese"}}, {"ne", []string{"nepali"}},
	{"nl", []string{"dutch", "flemish"}}, {"no", []string{"norwegian"}}, {"ns", []string{"northern sotho"}},
	{"oc", []string{"occitan"}}, {"or", []string{"oriya", "odia"}}, {"pa", []string{"punjabi", "panjabi"}},
	{"pl", []string{"polish"}}, {"ps", []string{"pashto", "pushto"}}, {"pt", []string{"portuguese"}},
	{"ro", []string{"romanian", "moldavian", "moldovan"}}, {"ru", []string{"russian"}}, {"sd", []string{"sindhi"}},
	{"si", []string{"sinhala", "sinhalese"}}, {"sk", []string{"slovak"}}, {"sl", []string{"slovenian"}},
	{"so", []string{"somali"}}, {"sq", []string{"albanian"}}, {"sr", []string{"serbian"}},
	{"ss", []string{"swati"}}, {"su", []string{"sundanese"}}, {"sv", []string{"swedish"}},
	{"sw", []string{"swahili"}}, {"ta", []string{"tamil"}}, {"th", []string{"thai"}},
	{"tl", []string{"tagalog"}}, {"tn", []string{"tswana"}}, {"tr", []string{"turkish"}},
	{"uk", []string{"ukrainian"}}, {"ur", []string{"urdu"}}, {"uz", []string{"uzbek"}},
	{"vi", []string{"vietnamese"}}, {"wo", []string{"wolof"}}, {"xh", []string{"xhosa"}},
	{"yi", []string{"yiddish"}}, {"yo", []string{"yoruba"}}, {"zh", []string{"chinese"}},
	{"zu", []string{"zulu"}},
}

// languageIndex maps every accepted spelling (code or English name, lower
// case) to an index into languages.
var languageIndex = func() map[string]int {
	m := map[string]int{}
	for i, l := range languages {
		m[l.code] = i
		for _, n := range l.names {
			m[n] = i
		}
	}
	return m
}()

// resolveLanguage finds a language by code or English name, ignoring case
// and surrounding space. An unknown value is a 400 on field that lists the
// codes.
func resolveLanguage(field, value string) (int, error) {
	if i, ok := languageIndex[strings.ToLower(strings.TrimSpace(value))]; ok {
		return i, nil
	}
	return 0, engine.BadInput(field, "%q is not a language this model knows; use an ISO 639 code or an English name "+
		"(\"fr\" or \"french\"); the codes are: %s", value, languageCodes)
}

var languageCodes = strings.Join(LanguageCodes(), ", ")

// LanguageCodes lists the model's language codes in token order: the
// token of code i is __code__ with id len(vocab.json) + i.
func LanguageCodes() []string {
	codes := make([]string, len(languages))
	for i, l := range languages {
		codes[i] = l.code
	}
	return codes
}

// languageToken is the token string of a language, e.g. "__fr__".
func languageToken(i int) string { return fmt.Sprintf("__%s__", languages[i].code) }
