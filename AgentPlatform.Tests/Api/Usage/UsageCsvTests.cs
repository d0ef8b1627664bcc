using AgentPlatform.Api.Usage;

namespace AgentPlatform.Tests.Api.Usage;

public sealed class UsageCsvTests
{
    [Theory]
    [InlineData("=HYPERLINK(\"http://evil\",\"x\")")]
    [InlineData("+1+cmd|' /C calc'!A0")]
    [InlineData("-2+3")]
    [InlineData("@SUM(A1)")]
    [InlineData("\tindented")]
    [InlineData("\r=1")]
    public void A_text_cell_a_spreadsheet_would_run_as_a_formula_is_exported_as_text(string text)
    {
        var cells = Cells(UsageAdminApi.ToCsv(new UsageRecord { Model = text, Deployment = "plain", PromptTokens = 5 }));

        Assert.Equal("'" + text, cells[5]);
        Assert.Equal("plain", cells[6]);
        Assert.Equal("5", cells[7]); // numbers stay numbers
    }

    /// <summary>Splits one CSV line as a spreadsheet reads it (quoted cells, doubled quotes).</summary>
    private static List<string> Cells(string line)
    {
        var cells = new List<string>();
        var cell = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted && c == '"' && i + 1 < line.Length && line[i + 1] == '"')
            {
                cell.Append('"');
                i++;
            }
            else if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                cells.Add(cell.ToString());
                cell.Clear();
            }
            else
            {
                cell.Append(c);
            }
        }
        cells.Add(cell.ToString());
        return cells;
    }
}
