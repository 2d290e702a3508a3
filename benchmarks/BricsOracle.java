// Reads lines "left<TAB>right<TAB>witness?<TAB>witness" on stdin and, for each, prints the verdict of
// dk.brics.automaton (Debian's libautomaton-java) on the same pair:
//     equivalent|different|unparsable <TAB> leftEmpty <TAB> rightEmpty <TAB> witnessSeparates
// witnessSeparates is "-" unless the third field is "1"; then it says whether exactly one side
// accepts the witness. Used only by benchmarks/regex_brics_oracle.py, never at run time.
import dk.brics.automaton.Automaton;
import dk.brics.automaton.RegExp;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;

public class BricsOracle {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintWriter out = new PrintWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            out.println(judge(line.split("\t", -1)));
        }
        out.flush();
    }

    static String judge(String[] fields) {
        Automaton left, right;
        try {
            left = new RegExp(fields[0]).toAutomaton();
            right = new RegExp(fields[1]).toAutomaton();
        } catch (IllegalArgumentException error) {
            return "unparsable\t-\t-\t-";
        }
        String verdict = left.equals(right) ? "equivalent" : "different";
        String separates = "-";
        if (fields[2].equals("1")) {
            separates = String.valueOf(left.run(fields[3]) != right.run(fields[3]));
        }
        return verdict + "\t" + left.isEmpty() + "\t" + right.isEmpty() + "\t" + separates;
    }
}
