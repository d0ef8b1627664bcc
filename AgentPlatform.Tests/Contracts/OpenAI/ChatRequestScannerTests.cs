using System.Text;
using AgentPlatform.Contracts.OpenAI;

namespace AgentPlatform.Tests.Contracts.OpenAI;

public sealed class ChatRequestScannerTests
{
    [Fact]
    public void Finds_model_its_token_and_stream()
    {
        var json = Encoding.UTF8.GetBytes("""{"stream":true,"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"x":{"model":"nested"}}""");

        var scan = ChatRequestScanner.Scan(json);

        Assert.True(scan.IsValid);
        Assert.Equal("gpt-4o", scan.Model);
        Assert.True(scan.Stream);
        Assert.Equal("\"gpt-4o\"", Encoding.UTF8.GetString(json.AsSpan()[scan.ModelToken]));
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[]}""", StreamOptionsKind.Absent)]
    [InlineData("""{"model":"m","messages":[],"stream_options":{"include_usage":true}}""", StreamOptionsKind.IncludeUsage)]
    [InlineData("""{"model":"m","stream_options":{"x":{"include_usage":true},"include_usage":false},"messages":[]}""", StreamOptionsKind.WithoutUsage)]
    [InlineData("""{"model":"m","stream_options":null,"messages":[]}""", StreamOptionsKind.WithoutUsage)]
    public void Tells_whether_the_stream_asked_for_usage(string body, StreamOptionsKind expected) =>
        Assert.Equal(expected, ChatRequestScanner.Scan(Encoding.UTF8.GetBytes(body)).StreamOptions);

    [Theory]
    [InlineData("""{"model":"m","messages":[]}""", 1)]
    [InlineData("""{"model":"m","n":null,"messages":[]}""", 1)]
    [InlineData("""{"model":"m","n":4,"messages":[]}""", 4)]
    public void Reads_how_many_answers_the_request_asks_for(string body, int expected)
    {
        var scan = ChatRequestScanner.Scan(Encoding.UTF8.GetBytes(body));

        Assert.True(scan.IsValid);
        Assert.Equal(expected, scan.Choices);
    }

    [Theory]
    [InlineData("""{"model":"m","n":0,"messages":[]}""")]
    [InlineData("""{"model":"m","n":-2,"messages":[]}""")]
    [InlineData("""{"model":"m","n":1.5,"messages":[]}""")]
    [InlineData("""{"model":"m","n":"2","messages":[]}""")]
    [InlineData("""{"model":"m","n":99999999999,"messages":[]}""")]
    public void An_n_that_is_not_a_positive_integer_is_named(string body)
    {
        var scan = ChatRequestScanner.Scan(Encoding.UTF8.GetBytes(body));

        Assert.Equal(ChatRequestProblem.ChoicesNotAPositiveInteger, scan.Problem);
        Assert.Equal("n", ChatRequestScanner.Describe(scan.Problem).Param);
    }

    [Fact]
    public void Bytes_that_are_not_utf8_are_refused_wherever_they_are()
    {
        byte[] json = [.. "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\""u8, 0xff, 0xfe, 0xfd, .. "\"}]}"u8];

        var scan = ChatRequestScanner.Scan(json);

        Assert.Equal(ChatRequestProblem.InvalidText, scan.Problem);
        Assert.Contains("UTF-8", ChatRequestScanner.Describe(scan.Problem).Message);
    }

    [Theory]
    [InlineData(@"\ud800")]
    [InlineData(@"\uDC00")]
    [InlineData(@"x\ud83dy")]
    [InlineData(@"\ud83d\u0041")]
    [InlineData(@"\ud83d\ud83d")]
    [InlineData(@"\\\ud800")]
    public void An_escaped_lone_surrogate_is_refused(string content)
    {
        var scan = ChatRequestScanner.Scan(Encoding.UTF8.GetBytes($$"""{"model":"m","messages":[{"role":"user","content":"{{content}}"}]}"""));

        Assert.Equal(ChatRequestProblem.InvalidText, scan.Problem);
    }

    [Theory]
    [InlineData(@"\ud83d\ude00")]
    [InlineData(@"\uD83D\uDE00 and \u00e9")]
    [InlineData(@"\\ud800")]
    [InlineData(@"\\\\ud800 \\")]
    [InlineData("café 😀")]
    public void Surrogate_pairs_escaped_backslashes_and_real_unicode_pass(string content)
    {
        var scan = ChatRequestScanner.Scan(Encoding.UTF8.GetBytes($$"""{"model":"m","messages":[{"role":"user","content":"{{content}}"}]}"""));

        Assert.True(scan.IsValid, scan.Problem.ToString());
    }

    [Fact]
    public void Escaped_model_name_is_unescaped_and_its_raw_token_kept_whole()
    {
        var json = Encoding.UTF8.GetBytes("""{"model":"a\u0062\/c","messages":[]}""");

        var scan = ChatRequestScanner.Scan(json);

        Assert.Equal("ab/c", scan.Model);
        Assert.Equal("\"a\\u0062\\/c\"", Encoding.UTF8.GetString(json.AsSpan()[scan.ModelToken]));
    }

    [Theory]
    [InlineData("", ChatRequestProblem.InvalidJson)]
    [InlineData("{", ChatRequestProblem.InvalidJson)]
    [InlineData("{} {}", ChatRequestProblem.InvalidJson)]
    [InlineData("{\"model\":\"m\",\"messages\":[],}", ChatRequestProblem.InvalidJson)]
    [InlineData("\"text\"", ChatRequestProblem.NotAnObject)]
    [InlineData("{\"messages\":[]}", ChatRequestProblem.MissingModel)]
    [InlineData("{\"model\":null,\"messages\":[]}", ChatRequestProblem.ModelNotAString)]
    [InlineData("{\"model\":\"\",\"messages\":[]}", ChatRequestProblem.ModelNotAString)]
    [InlineData("{\"model\":\"m\"}", ChatRequestProblem.MissingMessages)]
    [InlineData("{\"model\":\"m\",\"messages\":{}}", ChatRequestProblem.MessagesNotAnArray)]
    [InlineData("{\"model\":\"m\",\"messages\":[],\"stream\":1}", ChatRequestProblem.StreamNotABoolean)]
    public void Reports_the_first_problem(string json, ChatRequestProblem expected)
    {
        var scan = ChatRequestScanner.Scan(Encoding.UTF8.GetBytes(json));

        Assert.Equal(expected, scan.Problem);
        Assert.False(scan.IsValid);
        Assert.NotEmpty(ChatRequestScanner.Describe(expected).Message);
    }

    [Fact]
    public void Stream_null_means_not_streaming()
    {
        var scan = ChatRequestScanner.Scan("""{"model":"m","messages":[],"stream":null}"""u8);

        Assert.True(scan.IsValid);
        Assert.False(scan.Stream);
    }
}
