using System.Text;
using AgentPlatform.Tokens;

namespace AgentPlatform.Tests.Tokens;

public sealed class PromptTokenEstimatorTests
{
    private static readonly PromptTokenEstimator Estimator = new();

    [Fact]
    public void A_message_counts_its_text_role_and_framing_as_openai_does()
    {
        var (prompt, maxOutput) = Estimate("""{"model":"m","messages":[{"role":"user","content":"Hello there"}]}""", "gpt-4o");

        Assert.Equal(3 + 3 + 1 + 2, prompt); // reply priming + message framing + "user" + "Hello", " there"
        Assert.Equal(0, maxOutput);
    }

    [Fact]
    public void Parts_images_tool_calls_and_tools_all_count_and_max_tokens_is_read()
    {
        var plain = Estimate("""{"messages":[{"role":"user","content":"Describe"}]}""", "gpt-4o").PromptTokens;

        var (prompt, maxOutput) = Estimate("""
            {"max_completion_tokens":256,"messages":[
              {"role":"user","content":[{"type":"text","text":"Describe"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},
              {"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"look","arguments":"{\"at\":\"sky\"}"}}]}],
             "tools":[{"type":"function","function":{"name":"look"}}]}
            """, "gpt-4o");

        Assert.True(prompt > plain + 85 + 3, $"{prompt} tokens");
        Assert.Equal(256, maxOutput);
    }

    [Theory]
    [InlineData("""{"model":"m","input":"Hello there"}""", 2)]
    [InlineData("""{"model":"m","input":["Hello there","Hello"]}""", 3)]
    [InlineData("""{"model":"m","input":[1,2,3]}""", 3)]
    [InlineData("""{"model":"m","input":[[1,2],[3,4,5]]}""", 5)]
    public void An_embeddings_input_counts_its_texts_and_its_token_ids_and_nothing_else(string body, int expected)
    {
        Assert.Equal(expected, Estimator.EstimateEmbeddingsInput(System.Text.Encoding.UTF8.GetBytes(body), "text-embedding-3-small"));
    }

    [Fact]
    public void Models_of_other_families_get_an_estimate_too()
    {
        var gpt4 = Estimate("""{"messages":[{"role":"user","content":"The quick brown fox jumps over the lazy dog."}]}""", "gpt-4").PromptTokens;
        var claude = Estimate("""{"messages":[{"role":"user","content":"The quick brown fox jumps over the lazy dog."}]}""", "claude-sonnet-4-5").PromptTokens;

        Assert.InRange(gpt4, 15, 20);
        Assert.InRange(claude, 15, 20);
    }

    private static (int PromptTokens, int MaxOutputTokens) Estimate(string body, string model) =>
        Estimator.Estimate(Encoding.UTF8.GetBytes(body), model);
}
