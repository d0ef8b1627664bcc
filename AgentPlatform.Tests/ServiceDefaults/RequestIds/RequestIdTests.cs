using AgentPlatform.ServiceDefaults.RequestIds;
using Microsoft.Extensions.Primitives;

namespace AgentPlatform.Tests.ServiceDefaults.RequestIds;

public sealed class RequestIdTests
{
    [Theory]
    [InlineData("abc", true)]
    [InlineData("A-b_c.d:1", true)]
    [InlineData("", false)]
    [InlineData("with space", false)]
    [InlineData("new\nline", false)]
    [InlineData("quote\"", false)]
    [InlineData("caf\u00e9", false)]
    public void Only_plain_ids_are_valid(string value, bool valid) => Assert.Equal(valid, RequestId.IsValid(value));

    [Fact]
    public void Ids_longer_than_the_limit_are_replaced()
    {
        var exact = new string('a', RequestId.MaxLength);

        Assert.Equal(exact, RequestId.FromHeaderOrNew(exact));
        Assert.NotEqual(exact + "a", RequestId.FromHeaderOrNew(exact + "a"));
    }

    [Fact]
    public void Two_header_values_are_not_trusted()
    {
        var id = RequestId.FromHeaderOrNew(new StringValues(["one", "two"]));

        Assert.StartsWith("req_", id);
    }

    [Fact]
    public void New_ids_are_unique_valid_and_sort_by_time()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => RequestId.New()).ToList();

        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(ids, id => Assert.Matches("^req_[0-9a-f]{32}$", id));
        Assert.True(string.CompareOrdinal(ids[0][..16], ids[^1][..16]) <= 0);
    }
}
