// Package corpus generates reproducible benchmark inputs.
package corpus

import (
	"math/rand/v2"
	"strings"
)

// words are common English words, each a single bert-base-uncased token, so
// a sentence of n words is n+2 tokens with [CLS] and [SEP].
var words = strings.Fields(`the of and to in is was for on that with as by at from his her he she it they
this which are be or an had have not were but all we one their there been has when who will more no if out
so said what up its about into than them can only other new some could time these two may then do first any
my now such like our over man me even most made after also did many before must through back years where
much your way well down should because each just those people how too little state good very make world still
own see men work long get here between both life being under never day same another know while last might us
great old year off come since against go came right used take three states himself few house use during without
again place around however home small found thought went say part once general high upon school every don does
got united left number course war until always away something fact though water less public put think almost
hand enough far took head yet government system better set told nothing night end why called didn eyes find
going look asked later knew point next city give group toward young days let room president side social given
present several order national possible rather second face per among form important often things looked early
white case john become large big need four within felt along children saw best church ever least power
development light thing seemed family interest want members mind country area others done turned although open`)

// Sentences returns n sentences of minWords..maxWords words, the same for
// the same seed.
func Sentences(n, minWords, maxWords int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]string, n)
	for i := range out {
		k := minWords + r.IntN(maxWords-minWords+1)
		ws := make([]string, k)
		for j := range ws {
			ws[j] = words[r.IntN(len(words))]
		}
		out[i] = strings.Join(ws, " ")
	}
	return out
}
