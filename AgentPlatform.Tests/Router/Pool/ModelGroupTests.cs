using AgentPlatform.Router.Pool;

namespace AgentPlatform.Tests.Router.Pool;

public sealed class ModelGroupTests
{
    [Fact]
    public void PickFirst_follows_the_weights()
    {
        var group = new ModelGroup("g", [Deployment("light", 1), Deployment("heavy", 3)]);

        Assert.Equal(0, group.PickFirst(0.0));
        Assert.Equal(0, group.PickFirst(0.2499));
        Assert.Equal(1, group.PickFirst(0.25));
        Assert.Equal(1, group.PickFirst(0.9999));
    }

    [Fact]
    public void PickFirst_shares_traffic_in_proportion_to_weight()
    {
        var group = new ModelGroup("g", [Deployment("a", 1), Deployment("b", 3)]);
        var random = new Random(42);

        var heavy = Enumerable.Range(0, 10_000).Count(_ => group.PickFirst(random.NextDouble()) == 1);

        Assert.InRange(heavy, 7_250, 7_750);
    }

    private static Deployment Deployment(string name, double weight) =>
        new(new DeploymentOptions { Name = name, BaseUrl = "http://localhost/v1", Model = "m", Weight = weight });
}
