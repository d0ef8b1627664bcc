using System.Text;
using AgentPlatform.Contracts.Usage;

namespace AgentPlatform.Tests.Contracts.Usage;

public sealed class JsonAnswerTailTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public void The_usage_an_answer_ends_with_is_read_however_the_answer_arrived_in_pieces(int pieceBytes)
    {
        var vectors = string.Join(',', Enumerable.Range(0, 200).Select(i => $"{{\"object\":\"embedding\",\"index\":{i},\"embedding\":[0.1,-0.2,0.3]}}"));
        var answer = Encoding.UTF8.GetBytes(
            $$"""{"object":"list","data":[{{vectors}}],"model":"m","usage":{"prompt_tokens":321,"total_tokens":321},"note":"usage"}""");
        var tail = new JsonAnswerTail();

        for (var at = 0; at < answer.Length; at += pieceBytes)
        {
            tail.Append(answer.AsSpan(at, Math.Min(pieceBytes, answer.Length - at)));
        }

        Assert.Equal(new TokenUsage(321, 0, 0), tail.ReadUsage());
    }

    [Theory]
    [InlineData("""{"object":"list","data":[]}""")]
    [InlineData("""{"object":"list","data":[],"usage":{"prompt_tokens":""")]
    [InlineData("")]
    public void An_answer_without_a_whole_usage_at_its_end_has_none(string answer)
    {
        var tail = new JsonAnswerTail();
        tail.Append(Encoding.UTF8.GetBytes(answer));

        Assert.Null(tail.ReadUsage());
    }
}
